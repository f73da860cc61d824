"""Speed-up of `chat_completion_messages` from concurrent requests, against the emulator.

    .venv/bin/python -m bench.messages_concurrency --completions 300 --latency-ms 50

Every request to the emulator takes `latency-ms`. The sequential bound is what one request at a
time would take: requests x latency. The read phase is timed at the emulator, from the first
request's arrival to the last one's answer, so process startup is excluded exactly.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.harness import configured_catalog, run_connector


def read_phase(emulator: Emulator, workers: int) -> tuple[float, int]:
    """Seconds from the first request to the last answer, and the number of requests."""
    config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "num_workers": workers}
    emulator.clear_requests()
    run = run_connector(
        "read", config, catalog=configured_catalog({"chat_completion_messages": "full_refresh"})
    )
    if run.exit_code != 0:
        raise SystemExit(f"the connector failed ({run.exit_code}): {run.errors[-1:]}")
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
    with emulator:
        for workers in args.workers:
            runs = [read_phase(emulator, workers) for _ in range(args.runs)]
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
