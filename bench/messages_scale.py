"""`chat_completion_messages` on a busy account: rate limits, requests saved, resumes, speed.

    .venv/bin/python -m bench.messages_scale            # every figure (a few minutes)
    .venv/bin/python -m bench.messages_scale --quick    # fewer rates, smaller runs

Runs the installed connector against the emulator (in this process) and reports, measured in
one run: under a rate limit (16 workers) the share of requests answered 429 and the wall time
from first request to last against successful requests / rate; the completions whose messages
an incremental sync requests when its lookback window is full of known ones; the completions a
killed-and-resumed first sync requests twice; the speed-up of 32 and 8 workers over one
request at a time at 50 ms per request. Writes bench/results/messages.md.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from datetime import date

from integration_tests.emulator import (
    TEST_API_KEY,
    Emulator,
    generate,
    generate_recent,
    make_completion,
    make_messages,
)
from integration_tests.harness import (
    CONNECTOR_ROOT,
    configured_catalog,
    run_connector,
    run_until_killed,
)
from source_openai_chat.feed.fetched_window import FetchedWindow

MESSAGES = "chat_completion_messages"
RESULTS = CONNECTOR_ROOT / "bench" / "results" / "messages.md"


def config(emulator: Emulator, **extra) -> dict:
    return {"api_key": TEST_API_KEY, "base_url": emulator.base_url, **extra}


def messages_requested(emulator: Emulator) -> list[str]:
    """The completion of every messages request that got an answer other than 429."""
    return [
        r.path.split("/")[-2]
        for r in emulator.requests
        if r.path.endswith("/messages") and r.param("after") is None
    ]


def expected_keys(emulator: Emulator) -> set[tuple[str, str]]:
    return {(cid, m["id"]) for cid, ms in emulator.store.messages.items() for m in ms}


def delivered_keys(run) -> set[tuple[str, str]]:
    return {(r["completion_id"], r["id"]) for r in run.records_of(MESSAGES)}


@dataclass
class RateLimitRun:
    rate: float
    requests: int
    rate_limited: int
    wall: float
    ideal: float
    complete: bool
    exit_code: int


def rate_limited_read(rate: float, completions: int, workers: int = 16) -> RateLimitRun:
    with Emulator(generate(completions), rate_limit=rate) as emulator:
        run = run_connector(
            "read",
            config(emulator, num_workers=workers),
            catalog=configured_catalog({MESSAGES: "full_refresh"}),
        )
        arrivals = [r.arrived for r in emulator.requests]
        total = len(arrivals)
        successful = total - emulator.rate_limited
        return RateLimitRun(
            rate=rate,
            requests=total,
            rate_limited=emulator.rate_limited,
            wall=max(arrivals) - min(arrivals),
            ideal=successful / rate,
            complete=delivered_keys(run) == expected_keys(emulator),
            exit_code=run.exit_code,
        )


def fetched_once(in_window: int = 1200, new: int = 60) -> tuple[int, int, int]:
    """(completions in the window, new ones, completions the second sync requested)."""
    with Emulator(generate_recent(in_window, 1800)) as emulator:
        catalog = configured_catalog({MESSAGES: "incremental"})
        first = run_connector("read", config(emulator), catalog=catalog)
        rng = random.Random(3)
        now = int(time.time())
        for offset in range(new):
            record = make_completion(rng, now + 1 + offset // 10)
            emulator.add(record, make_messages(rng, record["id"], 2))
        emulator.clear_requests()
        second = run_connector("read", config(emulator), catalog=catalog, state=first.last_state)
        assert second.exit_code == 0, second.errors
        return in_window, new, len(set(messages_requested(emulator)))


def fetched_state_bytes(count: int) -> int:
    """The size of the `fetched` key for `count` completions spread over one hour."""
    rng = random.Random(1)
    start = int(time.time()) - 3600
    ids = [
        (f"chatcmpl-{rng.getrandbits(128):032x}", start + i * 3600 // count) for i in range(count)
    ]
    return len(FetchedWindow.of(ids).encode())


def resumed(completions: int = 1500, kill_after_states: int = 14) -> tuple[int, int, int, bool]:
    """(completions, delivered before the kill, requested twice, union complete)."""
    with Emulator(generate(completions)) as emulator:
        catalog = configured_catalog({MESSAGES: "incremental"})
        killed = run_until_killed(
            config(emulator), catalog=catalog, kill_after_states=kill_after_states
        )
        before = set(messages_requested(emulator))
        delivered = len({r["completion_id"] for r in killed.records_of(MESSAGES)})
        emulator.clear_requests()
        rerun = run_connector("read", config(emulator), catalog=catalog, state=killed.last_state)
        again = before & set(messages_requested(emulator))
        complete = delivered_keys(killed) | delivered_keys(rerun) == expected_keys(emulator)
        return completions, delivered, len(again), complete and rerun.exit_code == 0


def speed_up(completions: int, workers: int, latency: float = 0.05) -> tuple[float, int]:
    with Emulator(generate(completions), latency_s=latency) as emulator:
        run = run_connector(
            "read",
            config(emulator, num_workers=workers),
            catalog=configured_catalog({MESSAGES: "full_refresh"}),
        )
        assert run.exit_code == 0, run.errors
        arrivals = [r.arrived for r in emulator.requests]
        wall = max(arrivals) - min(arrivals) + latency
        return len(arrivals) * latency / wall, len(arrivals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rates = [40, 200] if args.quick else [10, 40, 100, 200]
    lines = [
        f"Measured {date.today().isoformat()} by `python -m bench.messages_scale"
        f"{' --quick' if args.quick else ''}` (emulator in the bench's process).",
        "",
        "Rate limit (token bucket, burst = 1 s of requests, 429 with `retry-after-ms`), "
        "16 workers:",
        "",
        "| limit (req/s) | completions | requests | answered 429 | wall / (successful / rate) "
        "| every message delivered | exit |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rate in rates:
        completions = int(min(400 * rate / 40, 1000)) if rate > 40 else 400 if rate == 40 else 150
        run = rate_limited_read(rate, completions)
        lines.append(
            f"| {rate:g} | {completions} | {run.requests} | {run.rate_limited / run.requests:.1%} "
            f"| {run.wall / run.ideal:.2f}x | {'yes' if run.complete else 'NO'} "
            f"| {run.exit_code} |"
        )
        print(lines[-1], flush=True)
    window, new, requested = fetched_once()
    lines += [
        "",
        "The bucket starts full, so a run can beat successful / rate by up to one second.",
        "",
        f"Fetched once: {window} completions in the last 30 minutes (lookback 60 min), "
        f"{new} new after the first sync: the second sync requested the messages of "
        f"**{requested}** completions (target <= {new + 10}). The state remembers the "
        f"completions of the window in {fetched_state_bytes(10_000):,} bytes for 10,000 "
        "(target <= 131,072).",
    ]
    print(lines[-1], flush=True)
    total, delivered, again, complete = resumed()
    lines += [
        "",
        f"Resumable: a first sync of {total} completions killed (SIGKILL) after delivering the "
        f"messages of {delivered}, rerun with its last state: **{again}** completions requested "
        f"again (target <= 100); every message delivered across both runs: "
        f"{'yes' if complete else 'NO'}.",
    ]
    print(lines[-1], flush=True)
    completions = 500 if args.quick else 2000
    lines += [
        "",
        f"Throughput: {completions} completions, 50 ms per request, speed-up over one request "
        "at a time (requests x 50 ms), first request to last:",
        "",
        "| workers | requests | speed-up |",
        "| --- | --- | --- |",
    ]
    for workers in (8, 32):
        ratio, requests = speed_up(completions, workers)
        lines.append(f"| {workers} | {requests} | {ratio:.1f}x |")
        print(lines[-1], flush=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS.relative_to(CONNECTOR_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
