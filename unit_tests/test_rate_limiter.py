"""The shared limiter, on a fake clock: its start, cuts, growth, pacing from OpenAI's headers,
convergence on token buckets of any shape, stalls, logs, stop."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from itertools import pairwise

import pytest

from source_openai_chat.api.rate_limit_headers import (
    RateLimitHeaders,
    parse_duration,
    parse_rate_limit_headers,
)
from source_openai_chat.api.rate_limiter import (
    DECREASE,
    HEADROOM,
    START_DOUBLING_SECONDS,
    START_RATE,
    RateLimitStalled,
    SharedRateLimiter,
    Slot,
    Stopped,
)
from unit_tests.builders import FakeClock


def limiter(clock: FakeClock, **kwargs) -> SharedRateLimiter:
    settings = {"max_rate": None, "stall_seconds": 600.0, **kwargs}
    return SharedRateLimiter(clock=clock, sleep=clock.sleep, **settings)


def answered(limiter_: SharedRateLimiter, clock: FakeClock, count: int, every: float) -> None:
    for _ in range(count):
        slot = limiter_.acquire()
        clock.sleep(every)
        limiter_.succeeded(slot)


@dataclass
class Bucket:
    """A server's token bucket on the fake clock, as the emulator keeps one."""

    clock: FakeClock
    rate: float
    burst_s: float
    taken_by_others: float = 0.0  # requests/s another client spends

    def __post_init__(self) -> None:
        self.capacity = max(1.0, self.rate * self.burst_s)
        self.tokens, self.updated = self.capacity, self.clock()

    def take(self) -> float | None:
        """None when the request is admitted, else the seconds until the next token."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / (self.rate - self.taken_by_others)

    def headers(self) -> RateLimitHeaders:
        self._refill()
        reset = (self.capacity - self.tokens) / self.rate
        return RateLimitHeaders(round(self.rate * 60), int(max(self.tokens, 0)), reset)

    def _refill(self) -> None:
        now = self.clock()
        income = (self.rate - self.taken_by_others) * (now - self.updated)
        self.tokens = min(self.capacity, self.tokens + income)
        self.updated = now


def sync(
    bucket: Bucket, requests: int, headers: bool = False, refused_at: list[float] | None = None
) -> tuple[float, float]:
    """`requests` successful requests through the limiter, one at a time, 1 ms each: (wall /
    (successes / admitted rate), share answered 429). The moments of the 429s, from the
    first request, go to `refused_at`."""
    clock = bucket.clock
    pool = limiter(clock)
    started, successes, refused = clock(), 0, 0
    while successes < requests:
        slot = pool.acquire()
        wait = bucket.take()
        seen = bucket.headers() if headers else None
        clock.sleep(0.001)
        if wait is None:
            successes += 1
            pool.succeeded(slot, seen)
        else:
            refused += 1
            if refused_at is not None:
                refused_at.append(clock() - started)
            pool.rate_limited(slot, wait, seen)
    admitted = bucket.rate - bucket.taken_by_others
    return (clock() - started) / (successes / admitted), refused / (successes + refused)


# -- the headers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("20ms", 0.02),
        ("1s", 1.0),
        ("1.5s", 1.5),
        ("6m0s", 360.0),
        ("1h2m3s", 3723.0),
        ("0s", 0.0),
        ("500us", 0.0005),
        ("2.5", 2.5),  # a bare number: seconds
    ],
)
def test_a_reset_is_read_in_every_duration_form(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "1x", "-1", "1m-2s", "s"])
def test_a_malformed_duration_is_not_read(text):
    assert parse_duration(text) is None


def test_the_three_headers_are_read_together():
    headers = {
        "X-RateLimit-Limit-Requests": "2400",
        "x-ratelimit-remaining-requests": "17",
        "x-ratelimit-reset-requests": "250ms",
    }

    assert parse_rate_limit_headers(headers) == RateLimitHeaders(2400, 17, 0.25)
    assert parse_rate_limit_headers(headers).rate == 40.0


@pytest.mark.parametrize(
    "broken",
    [
        {"x-ratelimit-limit-requests": None},
        {"x-ratelimit-remaining-requests": None},
        {"x-ratelimit-reset-requests": None},
        {"x-ratelimit-limit-requests": "many"},
        {"x-ratelimit-limit-requests": "0"},
        {"x-ratelimit-remaining-requests": "-3"},
        {"x-ratelimit-remaining-requests": "9999"},  # above the limit
        {"x-ratelimit-reset-requests": "later"},
    ],
)
def test_missing_or_malformed_headers_are_ignored(broken):
    headers = {
        "x-ratelimit-limit-requests": "2400",
        "x-ratelimit-remaining-requests": "17",
        "x-ratelimit-reset-requests": "250ms",
        **broken,
    }

    assert parse_rate_limit_headers({k: v for k, v in headers.items() if v is not None}) is None


# -- the pace ------------------------------------------------------------------------------


def test_the_first_requests_are_spread_out_then_the_pace_grows_with_every_answer():
    clock = FakeClock(1000.0)
    pool = limiter(clock)

    first, second = pool.acquire(), pool.acquire()
    assert second.at - first.at == pytest.approx(1 / START_RATE)

    answered(pool, clock, 40, every=0.001)  # no limit: answers come as fast as requests go
    assert pool.rate > 10 * START_RATE


def test_the_start_pace_at_most_doubles_every_tenth_of_a_second_however_fast_answers_come():
    clock = FakeClock(1000.0)
    pool = limiter(clock)

    answered(pool, clock, 200, every=0.0001)  # 200 instant answers within a few 1/20 s turns

    assert pool.rate <= START_RATE * 2 ** ((clock() - 1000.0) / START_DOUBLING_SECONDS) * 1.01


def test_a_chain_of_pages_is_not_paced_until_the_api_shows_a_limit():
    clock = FakeClock(1000.0)
    pool = limiter(clock)

    first = pool.acquire(paced_start=False)
    second_chain = pool.acquire(paced_start=False)  # waits for the first answer's headers
    pool.succeeded(first)
    unpaced = [pool.acquire(paced_start=False).at for _ in range(50)]
    pool.rate_limited(pool.acquire(paced_start=False), retry_after=0.5)
    after_429 = pool.acquire(paced_start=False)

    assert second_chain.at > first.at
    assert unpaced == [second_chain.at] * 50  # one request in flight at a time cannot burst
    assert after_429.at >= second_chain.at + 0.5  # then it waits like every request


def test_a_429_in_the_first_quarter_second_does_not_end_the_start():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    pool.rate_limited(pool.acquire(paced_start=False), retry_after=0.01)  # a tiny burst
    cut = pool.rate

    answered(pool, clock, 30, every=0.001)

    assert pool.rate > 2 * cut  # still growing as the start does, not probing slowly


def test_a_429_pauses_everyone_for_retry_after_and_paces_below_what_got_through():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 40, every=0.05)  # 40 answers in 2 s: 20/s got through
    slot = pool.acquire()

    pool.rate_limited(slot, retry_after=3.0)

    assert pool.rate == pytest.approx(DECREASE * 20, rel=0.01)
    first = pool.acquire()
    second = pool.acquire()
    assert first.at == pytest.approx(slot.at + 3.0, abs=0.01)
    assert second.at - first.at == pytest.approx(1 / pool.rate)


def test_429s_to_requests_sent_before_a_cut_do_not_cut_again():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 20, every=0.05)
    in_flight = [pool.acquire() for _ in range(8)]
    pool.rate_limited(in_flight[0], retry_after=0.0)
    after_first_cut = pool.rate

    for slot in in_flight[1:]:
        pool.rate_limited(slot, retry_after=0.0)

    assert pool.rate == after_first_cut


@pytest.mark.parametrize("seed", range(5))
def test_answers_whose_latency_varies_measure_the_rate_over_a_longer_span(seed):
    """Requests sent at 20/s, answered 50 to 350 ms later (a real API's spread): the answers
    of any quarter second come at anywhere from half to twice the rate. A measure spans
    several times the latencies' spread, so a 429's cut lands near 93% of 20/s."""
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    latency = random.Random(seed)
    in_flight: list[tuple[float, Slot]] = []
    for _ in range(200):
        slot = pool.acquire()
        in_flight.append((slot.at + latency.uniform(0.05, 0.35), slot))
        for _ in range(5):  # answers delivered within 10 ms of when they come
            clock.sleep(0.01)
            for answer in [answer for answer in in_flight if answer[0] <= clock()]:
                in_flight.remove(answer)
                pool.succeeded(answer[1])

    pool.rate_limited(pool.acquire(), retry_after=0.01)

    assert pool.rate == pytest.approx(DECREASE * 20, rel=0.1)  # 0.86-1.72x over 0.25 s


def test_a_retry_after_in_whole_seconds_does_not_cut_the_pace_to_one_a_second():
    """OpenAI may send only `retry-after: 1`, a rounded-up hint: not the admitted rate."""
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 40, every=0.05)  # 20/s got through
    pool.rate_limited(pool.acquire(), retry_after=1.0)
    after_first_cut = pool.rate

    pool.rate_limited(pool.acquire(), retry_after=1.0)  # again before a measure

    assert pool.rate >= DECREASE * after_first_cut * 0.99


def test_the_pace_grows_back_while_answers_come():
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    answered(pool, clock, 20, every=0.05)
    pool.rate_limited(pool.acquire(), retry_after=0.0)
    cut = pool.rate

    answered(pool, clock, 200, every=0.1)  # 20 s and 200 answers without a 429

    assert pool.rate > 2 * cut


def test_max_requests_per_second_paces_from_the_start_and_caps_growth():
    clock = FakeClock(1000.0)
    pool = limiter(clock, max_rate=4.0)

    starts = [pool.acquire().at for _ in range(3)]
    answered(pool, clock, 50, every=0.25)

    assert [s - starts[0] for s in starts] == [0.0, 0.25, 0.5]
    assert pool.rate == 4.0


def test_the_part_of_a_request_refilled_since_is_read_from_the_reset_time():
    """`remaining` is a whole number; on a bucket of two requests at 40/s, reading 0.5 left as
    0 would make every turn wait a whole refill (25 ms) instead of half of it."""
    clock = FakeClock(1000.0)
    pool = limiter(clock)
    pool.succeeded(pool.acquire(), RateLimitHeaders(2400, 2, 0.0))  # full: the bucket holds 2
    pool.succeeded(pool.acquire(), RateLimitHeaders(2400, 0, 0.0375))  # 0.5 of one left

    now = clock()
    turn = pool.acquire().at - now

    assert turn == pytest.approx(0.5 / (HEADROOM * 40), rel=0.05)


# -- convergence ---------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [10, 40, 200, 500])
@pytest.mark.parametrize("burst_s", [0.05, 0.2, 1.0])
def test_without_headers_the_pace_converges_on_any_bucket(rate, burst_s):
    ratio, refused = sync(Bucket(FakeClock(), rate, burst_s), requests=40 * rate)

    assert ratio <= 1.15
    assert refused <= 0.05


def test_a_probe_that_spends_a_saved_burst_ends_at_its_first_429():
    """Between probes the pace sits just under the rate and a bucket of a second's burst saves
    tokens; the probe spends them, so the answers before its 429 came up to 1.4x faster than
    the bucket refills. Cutting from them took three 429s a probe; the 429s measure the
    refill rate itself."""
    refused_at: list[float] = []
    sync(Bucket(FakeClock(), rate=10, burst_s=1.0), requests=600, refused_at=refused_at)

    probes = [moment for moment in refused_at if moment > 5.0]  # after the start's 429s
    assert len(probes) >= 3
    assert all(later - earlier > 1.0 for earlier, later in pairwise(probes))


def test_a_probe_of_a_bucket_that_filled_up_is_not_cut_below_the_pace_it_held():
    """A bucket of a request or two fills up while the pace is under its rate and throws the
    tokens away, so the 429s measure its refill rate low (here ~39 of 40 requests/s): the
    pace held quietly before the probe was admitted, and the cut never goes below it."""
    ratio, _ = sync(Bucket(FakeClock(), rate=40, burst_s=0.05), requests=1600)

    assert ratio <= 1.02  # 1.04 when cut from the refill measured low


def test_on_a_bucket_of_one_request_a_few_milliseconds_late_plan_the_waiting_turns_again():
    """10/s with a bucket of one request: A goes out 5 ms after its turn (a thread woke
    late), so the API's bucket, full meanwhile, has its next token 5 ms later than the copy
    planned B's turn for. A's headers show it: B waits for that token instead of a 429."""
    clock = FakeClock(1000.0)
    delivered = []

    def answer_a_while_b_waits(seconds: float) -> None:
        if not delivered:
            delivered.append(True)
            clock.now = 1000.015  # A reached the API at 1000.005; its answer, 10 ms later:
            pool.succeeded(a, RateLimitHeaders(600, 0, 0.09))  # 0.1 of a token back
            return
        clock.sleep(seconds)

    pool = SharedRateLimiter(None, 600.0, clock=clock, sleep=answer_a_while_b_waits)
    pool.succeeded(pool.acquire(), RateLimitHeaders(600, 1, 0.0))  # the bucket of one is full
    a = pool.acquire()

    b = pool.acquire()

    assert delivered
    assert b.at >= 1000.105  # when the API's bucket has a token again (1.3.0: 1000.102)


@pytest.mark.parametrize("rate", [10, 40, 200, 500])
@pytest.mark.parametrize("burst_s", [0.05, 0.2, 1.0])
def test_with_headers_the_pace_is_the_admitted_rate(rate, burst_s):
    ratio, refused = sync(Bucket(FakeClock(), rate, burst_s), requests=20 * rate, headers=True)

    assert ratio <= 1.05
    assert refused <= 0.01


@pytest.mark.parametrize("headers", [False, True])
def test_a_second_client_spending_half_the_limit_slows_the_sync_without_failing_it(headers):
    bucket = Bucket(FakeClock(), rate=40, burst_s=0.2, taken_by_others=20)

    ratio, _ = sync(bucket, requests=800, headers=headers)

    assert ratio <= 1.2  # of the half left to it


# -- waits ---------------------------------------------------------------------------------


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
