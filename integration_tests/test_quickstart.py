"""The README's first command, `python -m quickstart`, end to end into a temporary DuckDB."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from integration_tests.harness import CONNECTOR_ROOT
from quickstart.origin import EMULATOR_BASE_RECORDS, EMULATOR_NEW_PER_RUN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _quickstart(db: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(
        [sys.executable, "-m", "quickstart", "--db", str(db), "--port", str(port)],
        cwd=CONNECTOR_ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _table_stats(db: Path) -> tuple[int, int]:
    with duckdb.connect(str(db)) as connection:
        rows, distinct_ids = connection.execute(
            "SELECT count(*), count(DISTINCT id) FROM chat_completions"
        ).fetchone()
    return rows, distinct_ids


def _numbers(pattern: str, text: str) -> int:
    match = re.search(pattern, text)
    assert match, text[-2000:]
    return int(match.group(1).replace(",", ""))


def test_first_run_loads_everything_then_second_run_loads_only_new(tmp_path):
    db = tmp_path / "main.duckdb"  # the file name may be anything, even the schema's
    port = _free_port()

    first = _quickstart(db, port)

    assert first.returncode == 0, first.stderr[-3000:]
    assert _table_stats(db) == (EMULATOR_BASE_RECORDS, EMULATOR_BASE_RECORDS)
    assert re.search(r"day\s+\|\s+model\s+\|\s+completions", first.stdout)
    assert f"DuckDB file: {db.resolve()}" in first.stdout
    # Every schema field has one type (and null), so PyAirbyte maps each without a warning.
    assert "Could not determine" not in first.stdout + first.stderr
    assert not [line for line in first.stderr.splitlines() if "warning" in line.lower()]

    second = _quickstart(db, port)

    assert second.returncode == 0, second.stderr[-3000:]
    total = EMULATOR_BASE_RECORDS + EMULATOR_NEW_PER_RUN
    assert _table_stats(db) == (total, total)  # no duplicate ids
    assert _numbers(r"loaded ([\d,]+) new completions", second.stdout) == EMULATOR_NEW_PER_RUN
    # Incremental: only the new records and the lookback window were read, not the history.
    assert _numbers(r"Read ([\d,]+) records from the source", second.stdout) < total // 2


@pytest.mark.usefixtures("emulator")
def test_a_file_of_demo_data_is_never_synced_into_from_a_real_account(tmp_path, config):
    db = tmp_path / "demo.duckdb"
    demo = _quickstart(db, _free_port())
    assert demo.returncode == 0, demo.stderr[-3000:]

    real = _quickstart(db, _free_port(), OPENAI_API_KEY=config["api_key"] + "-real",
                       OPENAI_BASE_URL=config["base_url"])  # fmt: skip

    assert real.returncode == 2
    assert "holds the local emulator's demo completions" in real.stderr
    assert "QUICKSTART_DB" in real.stderr
    assert _table_stats(db) == (EMULATOR_BASE_RECORDS, EMULATOR_BASE_RECORDS)


def test_demo_and_real_data_go_to_different_files_by_default():
    from quickstart.__main__ import DEFAULT_DB, DEFAULT_DEMO_DB

    assert DEFAULT_DB != DEFAULT_DEMO_DB


def test_without_key_and_with_the_port_taken_explains_in_one_line(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]

        run = _quickstart(tmp_path / "w.duckdb", port)

    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port}" in lines[0]
    assert "OPENAI_API_KEY" in lines[0]


@pytest.mark.usefixtures("emulator")
def test_with_a_key_openai_rejects_prints_openai_message_not_a_traceback(tmp_path, config):
    run = _quickstart(
        tmp_path / "w.duckdb",
        _free_port(),
        OPENAI_API_KEY="sk-rejected-by-the-server-0000",
        OPENAI_BASE_URL=config["base_url"],
    )

    assert run.returncode != 0
    assert "Incorrect API key provided" in run.stderr
    assert "Traceback" not in run.stderr
    assert "sk-rejected-by-the-server-0000" not in run.stdout + run.stderr
