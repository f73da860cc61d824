"""The shared limiter, on a fake clock: pacing, cuts, growth, stalls, logs, stop."""

from __future__ import annotations

import logging

import pytest

from source_openai_chat.api.rate_limiter import (
    DECREASE,
    RateLimitStalled,
    SharedRateLimiter,
    Stopped,
)
from unit_tests.builders import FakeClock


def limiter(clock: FakeClock, **kwargs) -> SharedRateLimiter:
    settings = {"max_rate": None, "stall_seconds": 600.0, **kwargs}
    return SharedRateLimiter(clock=clock, sleep=clock.sleep, **settings)


def answered(limiter_: SharedRateLimiter, clock: FakeClock, count: int, every: float) -> None:
    for _ in range(count):
        sent = limiter_.acquire()
        clock.sleep(every)
        limiter_.succeeded(sent)


def test_unpaced_until_the_first_429():
    clock = FakeClock(1000.0)
    pool = limiter(clock)

    starts = [pool.acquire() for _ in range(5)]

    assert starts == [1000.0] * 5
    assert pool.rate is None


def test_a_429_pauses_everyone_for_retry_after_and_paces_below_what_got_through():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 40, every=0.05)  # 40 answers in 2 s: 20/s got through
    sent = pool.acquire()

    pool.rate_limited(sent, retry_after=3.0)

    assert pool.rate == pytest.approx(DECREASE * 20, rel=0.01)
    first = pool.acquire()
    second = pool.acquire()
    assert first == pytest.approx(sent + 3.0, abs=0.01)
    assert second - first == pytest.approx(1 / pool.rate)


def test_a_429_among_the_first_requests_pauses_but_sets_no_pace():
    """One answer in a second says nothing of the limit: pacing at it would crawl for long."""
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 1, every=1.0)
    sent = pool.acquire()

    pool.rate_limited(sent, retry_after=1.0)

    assert pool.rate is None
    assert pool.acquire() == pytest.approx(sent + 1.0, abs=0.01)
    answered(pool, clock, 10, every=0.05)  # answers after the first 429 measure the rate ...
    pool.rate_limited(pool.acquire(), retry_after=0.0)
    assert pool.rate == pytest.approx(DECREASE * 20, rel=0.01)  # ... for the next cut


def test_429s_to_requests_sent_before_a_cut_do_not_cut_again():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 20, every=0.05)
    in_flight = [pool.acquire() for _ in range(8)]
    pool.rate_limited(in_flight[0], retry_after=0.0)
    after_first_cut = pool.rate

    for sent in in_flight[1:]:
        pool.rate_limited(sent, retry_after=0.0)

    assert pool.rate == after_first_cut


def test_the_pace_grows_back_while_answers_come():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 20, every=0.05)
    pool.rate_limited(pool.acquire(), retry_after=0.0)
    cut = pool.rate

    answered(pool, clock, 100, every=0.1)  # 10 s without a 429

    assert pool.rate > 2 * cut


def test_max_requests_per_second_paces_from_the_start_and_caps_growth():
    clock = FakeClock(1000.0)
    pool = limiter(clock, max_rate=4.0)

    starts = [pool.acquire() for _ in range(3)]
    answered(pool, clock, 50, every=0.25)

    assert [s - starts[0] for s in starts] == [0.0, 0.25, 0.5]
    assert pool.rate == 4.0


def test_no_success_for_longer_than_the_stall_limit_fails():
    clock = FakeClock(1000.0)
    pool = limiter(clock, stall_seconds=60)
    answered(pool, clock, 5, every=0.1)

    for _ in range(7):  # 70 s of 429s
        pool.rate_limited(pool.acquire(), retry_after=10.0)

    with pytest.raises(RateLimitStalled, match="no request succeeded for 70 s"):
        pool.acquire()


def test_a_long_wait_is_logged_at_least_once_a_minute(caplog):
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    pool.rate_limited(pool.acquire(), retry_after=150.0)

    with caplog.at_level(logging.INFO, logger="airbyte"):
        pool.acquire()

    waits = [r for r in caplog.records if "Waiting" in r.getMessage()]
    assert len(waits) >= 150 // 60


def test_stop_wakes_waiting_requests_with_the_failure_that_stopped_the_sync():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    failure = RuntimeError("HTTP 401")

    pool.stop(failure)

    with pytest.raises(Stopped) as stopped:
        pool.acquire()
    assert stopped.value.cause is failure
