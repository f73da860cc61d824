"""Soak test, not part of CI: a long full refresh through random faults.

    .venv/bin/python -m bench.soak                # 200,000 completions, 5% faults (~5 min)
    .venv/bin/python -m bench.soak --records 20000

The emulator (its own process) answers a random 5% of requests with a 429 (`retry-after-ms`),
a 500, an HTML 502 or a 503. The connector must deliver every completion (compared by id
with the emulator's dataset) and its memory must stay flat: RSS is sampled twice a second and
the median of the last quarter of the run is compared with the second quarter's (the
first includes startup). Writes
bench/results/soak.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson

from bench.run import request_count
from integration_tests.emulator import TEST_API_KEY, generate
from integration_tests.emulator.process import emulator_process
from integration_tests.harness import cli_path, configured_catalog

RESULTS = Path(__file__).resolve().parent / "results"


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def soak(records: int, fault_rate: float) -> dict:
    expected = {record["id"] for record in generate(records).completions}
    with (
        emulator_process(records, fault_rate=fault_rate) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        config = {
            "api_key": TEST_API_KEY,
            "base_url": url,
            "lookback_window_minutes": 0,
            "max_retries": 20,
        }
        paths = {name: Path(tmp, f"{name}.json") for name in ("config", "catalog")}
        paths["config"].write_text(json.dumps(config))
        catalog = configured_catalog({"chat_completions": "full_refresh"})
        paths["catalog"].write_text(json.dumps(catalog))
        out = Path(tmp, "out.jsonl")
        started = time.perf_counter()
        with out.open("wb") as sink:
            args = [cli_path(), "read", "--config", str(paths["config"])]
            process = subprocess.Popen([*args, "--catalog", str(paths["catalog"])], stdout=sink)
            samples = []
            while process.poll() is None:
                sample = rss_mib(process.pid)
                if sample:
                    samples.append(sample)
                time.sleep(0.5)  # sampling period of a measurement, not synchronisation
        seconds = time.perf_counter() - started
        requests_made = request_count(url)
        delivered, lines, states, errors = set(), 0, 0, []
        for line in out.read_bytes().splitlines():
            message = orjson.loads(line)
            if message["type"] == "RECORD":
                delivered.add(message["record"]["data"]["id"])
                lines += 1
            elif message["type"] == "STATE":
                states += 1
            elif message["type"] == "TRACE" and message["trace"].get("error"):
                errors.append(message["trace"]["error"]["message"])
    quarter = max(1, len(samples) // 4)
    running = samples[quarter:] or samples  # the first quarter includes startup's growth
    return {
        "records": records,
        "fault_rate": fault_rate,
        "exit_code": process.returncode,
        "seconds": seconds,
        "requests": requests_made,
        "record_lines": lines,
        "missing": len(expected - delivered),
        "unexpected": len(delivered - expected),
        "states": states,
        "errors": errors,
        "rss_second_quarter_mib": statistics.median(running[:quarter]) if samples else 0,
        "rss_last_quarter_mib": statistics.median(samples[-quarter:]) if samples else 0,
        "rss_peak_mib": max(samples, default=0),
    }


def report(result: dict) -> str:
    ok = result["exit_code"] == 0 and not result["missing"] and not result["unexpected"]
    return "\n".join(
        [
            f"Soak test, {date.today().isoformat()} on {platform.machine()}, "
            f"Python {platform.python_version()}.",
            "",
            "| Figure | Value |",
            "| --- | --- |",
            f"| Completions in the emulator | {result['records']:,} |",
            f"| Requests answered with a random fault | {result['fault_rate']:.0%} |",
            f"| Requests made (incl. retries) | {result['requests']:,} |",
            f"| Exit code | {result['exit_code']} |",
            f"| Record lines / missing ids / unknown ids | {result['record_lines']:,} / "
            f"{result['missing']} / {result['unexpected']} |",
            f"| STATE messages (checkpoints) | {result['states']:,} |",
            f"| Wall time | {result['seconds']:.0f} s |",
            f"| RSS, median of second / last quarter | {result['rss_second_quarter_mib']:.0f} / "
            f"{result['rss_last_quarter_mib']:.0f} MiB |",
            f"| Peak RSS | {result['rss_peak_mib']:.0f} MiB |",
            f"| Verdict | {'every record, flat memory' if ok else 'FAILED'} |",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--fault-rate", type=float, default=0.05)
    args = parser.parse_args()
    result = soak(args.records, args.fault_rate)
    text = report(result)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.md").write_text(text)
    print(text)
    flat = result["rss_last_quarter_mib"] <= result["rss_second_quarter_mib"] * 1.1 + 5
    ok = result["exit_code"] == 0 and not result["missing"] and not result["unexpected"]
    return 0 if ok and flat else 1


if __name__ == "__main__":
    raise SystemExit(main())
