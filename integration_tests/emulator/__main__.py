"""Run the emulator as a process: `python -m integration_tests.emulator --records 2000`.

Prints one line, `ready <base_url>`, once it listens, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from integration_tests.emulator.dataset import generate
from integration_tests.emulator.server import TEST_API_KEY, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--latency-spread-ms", type=float, default=0.0, help="each answer up to this much later"
    )
    parser.add_argument("--api-key", default=TEST_API_KEY)
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="share of requests answered with a fault"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests/s before answering 429"
    )
    parser.add_argument(
        "--ignore-order",
        choices=("asc", "desc"),
        default=None,
        help="list in this order whatever `order` says, as some compatible servers do",
    )
    parser.add_argument(
        "--clock-at-newest",
        action="store_true",
        help="usage and costs end an hour after the newest stored completion, not now",
    )
    args = parser.parse_args(argv)
    try:
        emulator = Emulator(
            generate(args.records, seed=args.seed),
            api_keys=[args.api_key],
            latency_s=args.latency_ms / 1000,
            latency_spread_s=args.latency_spread_ms / 1000,
            host=args.host,
            port=args.port,
            fault_rate=args.fault_rate,
            rate_limit=args.rate_limit,
            ignore_order=args.ignore_order,
            clock_at_newest=args.clock_at_newest,
        )
    except OSError as error:
        print(
            f"emulator: cannot listen on {args.host}:{args.port}: {error.strerror}", file=sys.stderr
        )
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with emulator:
        print(f"ready {emulator.base_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
