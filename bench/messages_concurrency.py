"""Speed-up of `chat_completion_messages` from concurrent requests, against the emulator.

    .venv/bin/python -m bench.messages_concurrency --completions 300 --latency-ms 50

Every request to the emulator takes `latency-ms`. The sequential bound is what one request at a
time would take: requests x latency. The read phase is timed at the emulator, from the first
request's arrival to the last one's answer, so process startup is excluded exactly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.harness import cli_path, configured_catalog


def read_phase(emulator: Emulator, workers: int, tmp: Path) -> tuple[float, int]:
    """Seconds from the first request to the last answer, and the number of requests."""
    config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "num_workers": workers}
    (tmp / "config.json").write_text(json.dumps(config))
    catalog = configured_catalog({"chat_completion_messages": "full_refresh"})
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    emulator.clear_requests()
    args = [cli_path(), "read", "--config", str(tmp / "config.json")]
    args += ["--catalog", str(tmp / "catalog.json")]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() if "TRACE" in line]
        raise SystemExit(f"the connector failed ({done.returncode}):\n" + "\n".join(errors[-3:]))
    arrivals = [request.arrived for request in emulator.requests]
    return max(arrivals) - min(arrivals) + emulator.latency_s, len(arrivals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--completions", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    rows = []
    emulator = Emulator(generate(args.completions), latency_s=latency)
    with emulator, tempfile.TemporaryDirectory() as tmp_dir:
        for workers in args.workers:
            runs = [read_phase(emulator, workers, Path(tmp_dir)) for _ in range(args.runs)]
            requests = runs[0][1]
            wall = statistics.median(seconds for seconds, _ in runs)
            rows.append((workers, wall, requests * latency / wall))
    print(f"{args.completions} completions, {requests} requests, {args.latency_ms:g} ms latency,")
    print(f"sequential bound {requests * latency:.1f} s; medians of {args.runs} runs")
    print()
    print("| workers | read phase (s) | speed-up vs sequential | speed-up / workers |")
    print("| --- | --- | --- | --- |")
    for workers, wall, speedup in rows:
        print(f"| {workers} | {wall:.1f} | {speedup:.1f}x | {speedup / workers:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
