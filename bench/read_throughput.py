"""Full-refresh throughput of the connector vs a raw page loop, against the local emulator.

    uv run python -m bench.read_throughput --records 20000 --runs 3

Reports medians; the machine is noisy, so the ratio (connector / raw) is the figure that counts.
The raw reference is a `requests.Session` page loop that parses each page and writes each record
as an Airbyte RECORD line with orjson: the physical limit for this API on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import requests

from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.harness import cli_path, configured_catalog


def raw_loop(base_url: str, out: Path) -> int:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TEST_API_KEY}"
    params: dict[str, str] = {"order": "desc", "limit": "100"}
    count = 0
    with out.open("wb") as sink:
        while True:
            body = session.get(f"{base_url}/chat/completions", params=params).json()
            for record in body["data"]:
                message = {
                    "type": "RECORD",
                    "record": {"stream": "chat_completions", "data": record, "emitted_at": 0},
                }
                sink.write(orjson.dumps(message) + b"\n")
                count += 1
            if not body["has_more"] or not body["data"]:
                return count
            params["after"] = body["last_id"]


def connector_read(config: dict, tmp: Path, mode: str = "full_refresh", state=None) -> float:
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(configured_catalog({"chat_completions": mode})))
    args = [cli_path(), "read", "--config", str(tmp / "config.json")]
    args += ["--catalog", str(tmp / "catalog.json")]
    if state is not None:
        (tmp / "state.json").write_text(json.dumps(state))
        args += ["--state", str(tmp / "state.json")]
    started = time.perf_counter()
    with (tmp / "out.jsonl").open("wb") as sink:
        subprocess.run(args, stdout=sink, check=True)
    return time.perf_counter() - started


def startup_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([cli_path(), "spec"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with Emulator(generate(args.records)) as emulator, tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        config = {
            "api_key": TEST_API_KEY,
            "base_url": emulator.base_url,
            "lookback_window_minutes": 0,
        }
        raw = [timed(raw_loop, emulator.base_url, tmp / "raw.jsonl") for _ in range(args.runs)]
        connector = [connector_read(config, tmp) for _ in range(args.runs)]
        startup = [startup_seconds() for _ in range(args.runs)]
        lines = (tmp / "out.jsonl").read_bytes().splitlines()
        states = [json.loads(line)["state"] for line in lines if b'"type":"STATE"' in line]
        emulator.clear_requests()
        connector_read(config, tmp, "incremental", [states[-1]])
        no_news_requests = len(emulator.list_requests())

    raw_s, conn_s, start_s = (statistics.median(x) for x in (raw, connector, startup))
    work_s = conn_s - start_s
    n = args.records
    print(f"records: {n}, runs: {args.runs} (medians)")
    print(f"raw loop:            {raw_s:6.2f} s  {n / raw_s:8.0f} records/s")
    print(f"connector:           {conn_s:6.2f} s  {n / conn_s:8.0f} records/s")
    print(f"connector - startup: {work_s:6.2f} s  {n / work_s:8.0f} records/s")
    print(f"startup (spec):      {start_s:6.2f} s")
    print(f"ratio to raw: {conn_s / raw_s:.1f}x, excluding startup {work_s / raw_s:.1f}x")
    print(f"incremental sync with nothing new (lookback 0): {no_news_requests} request(s)")
    return 0


def timed(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
