"""How close a messages sync keeps to a rate limit, over the grid of limits a real account meets.

    .venv/bin/python -m bench.rate_limits            # the whole grid (about 15 minutes)
    .venv/bin/python -m bench.rate_limits --quick    # one burst and worker count per rate
    .venv/bin/python -m bench.rate_limits --rates 40 --bursts 0.2 --workers 16   # one cell
    .venv/bin/python -m bench.rate_limits --latency-ms 50 --latency-spread-ms 300 \
        --rates 10 40 --bursts 0.2 1 --workers 32 --no-shared \
        --output bench/results/rate_limits_latency_spread.md   # latencies as a real API's

The emulator (in this process) limits requests with a token bucket of `rate` requests/s and a
burst of `burst` seconds of it, answering 429 with `retry-after-ms`; with headers it also sends
OpenAI's `x-ratelimit-*-requests` headers on every answer. The installed connector reads the
messages stream in a process of its own. For each cell, measured in one run from the first
request to the last: `wall / (successful requests / rate)` and the share answered 429. With a
second client taking half the limit (a thread spending tokens of the same bucket, as another
sync or production traffic would), the ratio is against half the rate. Writes
bench/results/rate_limits.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from dataclasses import dataclass
from datetime import date

from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.harness import CONNECTOR_ROOT, configured_catalog, run_connector

MESSAGES = "chat_completion_messages"
RESULTS = CONNECTOR_ROOT / "bench" / "results" / "rate_limits.md"
RATES = (10, 40, 200, 500)
BURSTS = (0.05, 0.2, 1.0)
WORKERS = (4, 16, 32)
LATENCY_S = 0.01  # per request, so that a worker reaches at most ~90 requests/s
SECONDS = 8.0  # each run's length at the rate, at least
TARGETS = {False: (1.15, 0.05), True: (1.05, 0.01)}  # headers -> (ratio, share of 429s)
SHARED_TARGET = 1.2


@dataclass
class Cell:
    rate: float
    burst: float
    workers: int
    headers: bool
    shared: bool = False  # a second client takes half the limit
    latency_s: float = LATENCY_S  # each answer's, plus up to spread_s more
    spread_s: float = 0.0


@dataclass
class Measured:
    requests: int
    rate_limited: int
    ratio: float
    complete: bool
    exit_code: int

    @property
    def share_429(self) -> float:
        return self.rate_limited / self.requests if self.requests else 0.0


def reachable(rate: float, workers: int, latency_s: float = LATENCY_S) -> bool:
    """Whether `workers` requests at a time can reach `rate` at a mean latency."""
    return workers * 0.8 / latency_s >= rate


def capacity(workers: int, latency_s: float = LATENCY_S, spread_s: float = 0.0) -> float:
    """Requests/s this machine gets through with no limit (connector and emulator share its
    cores): a limit above it measures the machine, not the limiter."""
    with Emulator(generate(1500), latency_s=latency_s, latency_spread_s=spread_s) as emulator:
        run_connector(
            "read",
            {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "num_workers": workers},
            catalog=configured_catalog({MESSAGES: "full_refresh"}),
        )
        arrivals = [r.arrived for r in emulator.requests]
    return len(arrivals) / (max(arrivals) - min(arrivals))


def measure(cell: Cell) -> Measured:
    admitted = cell.rate / 2 if cell.shared else cell.rate
    completions = int(max(SECONDS * admitted, 150))
    emulator = Emulator(
        generate(completions),
        latency_s=cell.latency_s,
        latency_spread_s=cell.spread_s,
        rate_limit=cell.rate,
        rate_limit_burst_s=cell.burst,
        rate_limit_headers=cell.headers,
    )
    with emulator, emulator.other_client(0.5) if cell.shared else contextlib.nullcontext():
        run = run_connector(
            "read",
            {
                "api_key": TEST_API_KEY,
                "base_url": emulator.base_url,
                "num_workers": cell.workers,
                "max_retry_seconds": 120,
            },
            catalog=configured_catalog({MESSAGES: "full_refresh"}),
        )
        arrivals = [r.arrived for r in emulator.requests]
        expected = {(c, m["id"]) for c, ms in emulator.store.messages.items() for m in ms}
    delivered = {(r["completion_id"], r["id"]) for r in run.records_of(MESSAGES)}
    successful = len(arrivals) - emulator.rate_limited
    wall = max(arrivals) - min(arrivals)
    return Measured(
        requests=len(arrivals),
        rate_limited=emulator.rate_limited,
        ratio=wall / (successful / admitted),
        complete=delivered == expected,
        exit_code=run.exit_code,
    )


def verdict(cell: Cell, measured: Measured) -> str:
    if not measured.complete or measured.exit_code:
        return "LOST"
    if cell.shared:
        return "ok" if measured.ratio <= SHARED_TARGET else "over"
    ratio, share = TARGETS[cell.headers]
    return "ok" if measured.ratio <= ratio and measured.share_429 <= share else "over"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rates", type=float, nargs="*", default=list(RATES))
    parser.add_argument("--bursts", type=float, nargs="*", default=list(BURSTS))
    parser.add_argument("--workers", type=int, nargs="*", default=list(WORKERS))
    parser.add_argument("--headers", choices=("no", "yes", "both"), default="both")
    parser.add_argument("--no-shared", action="store_true", help="skip the second-client runs")
    parser.add_argument("--output", default=str(RESULTS))
    parser.add_argument("--latency-ms", type=float, default=LATENCY_S * 1000)
    parser.add_argument(
        "--latency-spread-ms", type=float, default=0.0, help="each answer up to this much later"
    )
    parser.add_argument(
        "--machine-share",
        type=float,
        default=0.8,
        help="leave out limits above this share of the machine's own request rate",
    )
    args = parser.parse_args()
    bursts, workers = ([0.2], [16]) if args.quick else (args.bursts, args.workers)
    headers = {"no": [False], "yes": [True], "both": [False, True]}[args.headers]
    latency_s, spread_s = args.latency_ms / 1000, args.latency_spread_ms / 1000
    cells = [
        Cell(rate, burst, count, with_headers, latency_s=latency_s, spread_s=spread_s)
        for with_headers, rate, burst, count in itertools.product(
            headers, args.rates, bursts, workers
        )
        if reachable(rate, count, latency_s + spread_s / 2)
    ]
    if not args.no_shared:
        cells += [
            Cell(rate, 0.2, 16, h, shared=True, latency_s=latency_s, spread_s=spread_s)
            for h in headers
            for rate in args.rates
        ]
    latency = f"{args.latency_ms:g}" + (
        f"-{args.latency_ms + args.latency_spread_ms:g} ms (uniformly)" if spread_s else " ms"
    )
    lines = [
        f"Measured {date.today().isoformat()} by `python -m bench.rate_limits"
        f"{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`: the messages stream of the "
        f"installed connector against the emulator (token bucket, {latency} a request, 429 "
        "with `retry-after-ms`), one run a cell, first request to last.",
        "",
        f"Targets: without headers <= {TARGETS[False][0]}x and <= {TARGETS[False][1]:.0%} "
        f"answered 429; with OpenAI's `x-ratelimit-*-requests` headers <= {TARGETS[True][0]}x "
        f"and <= {TARGETS[True][1]:.0%}; with a second client taking half the limit, nothing "
        f"lost and <= {SHARED_TARGET}x of half the rate. A cell is left out where its workers "
        "cannot reach the rate at this latency.",
        "",
        "| headers | limit (req/s) | burst (s) | workers | second client | requests "
        "| answered 429 | wall / (successful / rate) | every message | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    limits = {
        count: capacity(count, latency_s, spread_s)
        for count in sorted({cell.workers for cell in cells})
    }
    lines[2] += (
        " Without a limit this machine gets through "
        + ", ".join(f"{limits[count]:.0f} requests/s with {count} workers" for count in limits)
        + f"; a limit above {args.machine_share:.0%} of that is left out too (it would "
        "measure the machine)."
    )
    cells = [cell for cell in cells if cell.rate <= args.machine_share * limits[cell.workers]]
    print("\n".join(lines), flush=True)
    for cell in cells:
        measured = measure(cell)
        lines.append(
            f"| {'yes' if cell.headers else 'no'} | {cell.rate:g} | {cell.burst:g} "
            f"| {cell.workers} | {'half the limit' if cell.shared else '-'} "
            f"| {measured.requests} | {measured.share_429:.1%} | {measured.ratio:.2f}x "
            f"| {'yes' if measured.complete else 'NO'} | {verdict(cell, measured)} |"
        )
        print(lines[-1], flush=True)
    with open(args.output, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
