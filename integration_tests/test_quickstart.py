"""The README's first command, `python -m quickstart`, end to end into a temporary DuckDB.

The syncs run its `main()` in-process (PyAirbyte, which takes seconds to import, still runs the
connector as a subprocess); one test runs `python -m quickstart` itself.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from integration_tests.harness import CONNECTOR_ROOT
from quickstart import origin, warehouse
from quickstart.__main__ import main as quickstart_main
from quickstart.origin import EMULATOR_BASE_RECORDS, EMULATOR_NEW_PER_RUN, emulator_origin


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _quickstart(db: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m quickstart`, the README's first command, in a subprocess."""
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


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def quickstart(monkeypatch, capsys) -> Callable[..., Ran]:
    """`main()` of `python -m quickstart` in this process, with OPENAI_* variables as given.
    Importing PyAirbyte takes seconds: its tests share one worker (xdist_group) and import it
    once. PyAirbyte still runs the connector as a subprocess, as `make sync` does."""

    def run(db: Path, port: int, **env: str) -> Ran:
        for name in [name for name in os.environ if name.startswith("OPENAI_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        with warnings.catch_warnings(record=True) as caught:
            _python_default_warning_filters()  # what `python -m quickstart` would show
            returncode = quickstart_main(["--db", str(db), "--port", str(port)])
        out, err = capsys.readouterr()
        shown = [f"{w.category.__name__}: {w.message}" for w in caught]
        return Ran(returncode, out, "\n".join([err, *shown]))

    return run


def _python_default_warning_filters() -> None:
    warnings.resetwarnings()
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.filterwarnings("ignore", category=hidden)


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


# The demo's first run loads 2,000 completions (quickstart/origin.py); a quarter of them make
# the same two runs for a quarter of the reading (5 of the test's ~28 CPU-s).
DEMO_RECORDS = EMULATOR_BASE_RECORDS // 4


@pytest.mark.xdist_group("pyairbyte")
def test_first_run_loads_everything_then_second_run_loads_only_new(
    tmp_path, quickstart, monkeypatch
):
    monkeypatch.setattr(origin, "EMULATOR_BASE_RECORDS", DEMO_RECORDS)
    db = tmp_path / "main.duckdb"  # the file name may be anything, even the schema's
    port = _free_port()

    first = quickstart(db, port)

    assert first.returncode == 0, first.stderr[-3000:]
    assert _table_stats(db) == (DEMO_RECORDS, DEMO_RECORDS)
    assert re.search(r"day\s+\|\s+model\s+\|\s+completions", first.stdout)
    # The demo syncs usage and costs too: billed tokens, the stored share and the cost.
    assert re.search(r"day\s+\|\s+model\s+\|\s+billed_tokens\s+\|\s+stored_pct\s+\|\s+cost_usd",
                     first.stdout)  # fmt: skip
    assert f"DuckDB file: {db.resolve()}" in first.stdout
    # Every schema field has one type (and null), so PyAirbyte maps each without a warning.
    assert "Could not determine" not in first.stdout + first.stderr
    assert not [line for line in first.stderr.splitlines() if "warning" in line.lower()]

    second = quickstart(db, port)

    assert second.returncode == 0, second.stderr[-3000:]
    total = DEMO_RECORDS + EMULATOR_NEW_PER_RUN
    assert _table_stats(db) == (total, total)  # no duplicate ids
    assert _numbers(r"loaded ([\d,]+) new completions", second.stdout) == EMULATOR_NEW_PER_RUN
    # Incremental: only the new records and the lookback window were read, not the history.
    read = r"Read ([\d,]+) records from the source"
    assert _numbers(read, second.stdout) < _numbers(read, first.stdout) // 2


def test_a_file_of_demo_data_is_never_synced_into_from_a_real_account(tmp_path, quickstart):
    db = tmp_path / "demo.duckdb"
    warehouse.stamp(db, emulator_origin("http://127.0.0.1:8765/v1").identity)

    real = quickstart(db, _free_port(), OPENAI_API_KEY="sk-real-0000000000")

    assert real.returncode == 2
    assert "holds the local emulator's demo completions" in real.stderr
    assert "QUICKSTART_DB" in real.stderr
    assert warehouse.row_count(db) == 0  # refused before anything was read


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


@pytest.mark.xdist_group("pyairbyte")
def test_with_a_key_openai_rejects_prints_openai_message_not_a_traceback(
    tmp_path, config, quickstart
):
    run = quickstart(
        tmp_path / "w.duckdb",
        _free_port(),
        OPENAI_API_KEY="sk-rejected-by-the-server-0000",
        OPENAI_BASE_URL=config["base_url"],
    )

    assert run.returncode != 0
    assert "Incorrect API key provided" in run.stderr
    assert "Traceback" not in run.stderr
    assert "sk-rejected-by-the-server-0000" not in run.stdout + run.stderr
