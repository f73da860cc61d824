"""One pace for every request of a sync, held at the rate the API admits.

Why not the CDK's: its HTTP client backs off per request, so each worker waits alone while the
others keep sending, and every 429 counts against `max_retries` (a busy sync then fails while
it is only being asked to slow down). Its `api_budget` shares one limit between workers, but
only a limit known in advance: OpenAI does not publish these endpoints' limits, enforces a
stated limit over shorter windows than it is stated in (a burst of well under a second), and
its `x-ratelimit-reset-*` headers are durations (`6m0s`), which the CDK reads as epochs.

How it paces, in three phases:

- **Start.** The pace starts at `START_RATE` and grows by `START_GROWTH` with every answer, up
  to twice the rate at which answers come back and at most doubling every
  `START_DOUBLING_SECONDS`, so a sync without a limit is at full speed within a second, while
  the first requests never arrive as one burst that a small bucket would answer with a 429
  each. A chain of list pages (one request in flight) is not paced until the first 429: it
  cannot burst. A 429 in the first quarter second only cuts the pace; the start goes on.
- **OpenAI's headers.** Once an answer carries `x-ratelimit-limit/remaining/reset-requests`
  (rate_limit_headers.py), the limiter keeps a copy of the API's bucket: it refills at
  `HEADROOM` of the stated rate (requests reach the API a few milliseconds early or late), up
  to what the reset time says the bucket holds, and every answer with the headers sets it
  again to what the API says is left, less the requests sent after that one and those
  waiting. A request is sent when the copy has a token for it, so the pace is the admitted
  rate. Another client spending the same limit shows up as 429s: each steps the pace down by
  `DECREASE`, and answers grow it back as below.
- **Without headers**, after the first 429: the pace is cut to `DECREASE` x the rate at which
  answers came back just before (one cut per round trip: a 429 to a request sent before the
  last cut does not cut again), and grows by `GROWTH` with every answer, or `QUIET_GROWTH` once
  no 429 came for `QUIET_SECONDS` and `QUIET_ANSWERS`: it probes back to the limit every ~100
  answers and stays just under it, whatever the bucket's size, at one 429 per probe. A probe
  spends the burst the bucket saved while the pace was under its rate, so the answers before
  its 429 came faster than the bucket refills: that cut is measured from the 429s instead
  (`_refill_rate`: two of them, saying in milliseconds when the next token comes, and the
  answers between them give the refill rate), or a large bucket took several 429s a probe.
  A rate measured from answer times spans at least a quarter second, and `JITTER_SPANS` times
  the spread of the answers' latencies when that is longer: a real API's latency varies by a
  few hundred milliseconds, which over a quarter second puts a measure off by half.

Every 429 also pauses the whole pool for its `retry-after-ms` / `retry-after`, and never counts
as a retry. `max_requests_per_second` caps the pace in every phase. A request waits for a turn
planned at the pace of the moment; turns still waiting are planned again when a 429 comes,
when the pace has grown by `REPLAN_GROWTH`, or when the headers show less left than planned,
so no request goes out on a plan the limiter has since learned better than.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from source_openai_chat.api.rate_limit_headers import RateLimitHeaders

LOGGER = logging.getLogger("airbyte")

START_RATE = 20.0  # requests/s before any answer
START_GROWTH = 0.25  # the pace grows by this share with every answer until the first 429,
START_DOUBLING_SECONDS = 0.1  # but at most doubles in this time (answers come in clumps)
DECREASE = 0.93  # the pace after a 429, as a share of the rate that gets through
GROWTH = 0.001  # the pace grows by this share with every answer after a 429 ...
QUIET_GROWTH = 0.01  # ... and by this share once no 429 came for QUIET_SECONDS and
QUIET_SECONDS = 3.0  # QUIET_ANSWERS answers (a limit that rose, or a cut too deep)
QUIET_ANSWERS = 100
MIN_RATE = 0.5  # requests/s: never slower, whatever the API says
MAX_RATE = 1e6  # requests/s: the pace stops growing here (effectively unpaced)
SAMPLE = 100  # the latest answers, which measure the rate the API admits
REFUSALS = 20  # the latest 429s, which measure the rate its bucket refills at
MIN_MEASURE_ANSWERS = 3  # a measure needs at least this many answers ...
MIN_MEASURE_SECONDS = 0.25  # ... spanning at least this long (threads answer in clumps)
JITTER_SPANS = 8  # ... and at least this many times the spread of answers' latencies
LOG_EVERY_SECONDS = 60.0  # at least one line a minute while the pool waits (Airbyte kills a
# source that stays silent)
HEADROOM = 0.98  # the share of a stated rate the headers' copy refills at: requests reach the
# API a few milliseconds early or late, and a bucket of one request has no slack for that
MIN_SLACK = 0.01  # requests: a view of the headers' copy poorer by more plans turns again
REPLAN_GROWTH = 1.5  # the waiting turns are planned again once the pace grew by this much
LONGEST_SLEEP = 15.0  # a long wait is slept in slices, to log and to notice a stop


class RateLimitStalled(Exception):
    """No request of the pool succeeded for longer than the stall limit."""


class Stopped(Exception):
    """The sync is ending (another request failed): waiting requests give up. `cause` is the
    failure that stopped it, to report instead of this."""

    def __init__(self, cause: BaseException | None = None) -> None:
        super().__init__("the sync is stopping")
        self.cause = cause


@dataclass(frozen=True)
class Slot:
    """A request's turn: when it was sent, and how many were sent before it."""

    at: float
    number: int


@dataclass
class _Counts:
    rate_limited: int = 0
    succeeded: int = 0


@dataclass(frozen=True)
class _Refusal:
    """A 429 that said in milliseconds when the API's bucket has its next token."""

    at: float
    retry_after: float
    succeeded: int  # answers before it


@dataclass
class _Bucket:
    """The limiter's copy of the API's bucket, from its headers."""

    rate: float  # refill, requests/s
    capacity: float
    tokens: float  # at `updated`; below 0 once requests wait for tokens to come
    updated: float

    def tokens_at(self, now: float) -> float:
        return min(self.capacity, self.tokens + (now - self.updated) * self.rate)


class SharedRateLimiter:
    """Paces requests from many threads: `acquire()` a slot before sending, then report the
    answer with `succeeded` or `rate_limited` (with its rate-limit headers, when it has them)."""

    def __init__(
        self,
        max_rate: float | None,
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._max_rate = max_rate
        self._rate = min(START_RATE, max_rate) if max_rate else START_RATE
        self._stall_seconds = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        # Wakes the waiting requests when their turns are planned again (a 429) or on a stop.
        self._replanned = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._sleep = sleep  # a test's clock; None: wait on `_replanned`
        self._stop_cause: BaseException | None = None
        now = clock()
        self._next_slot = now
        self._paused_until = now
        self._sent = 0  # requests sent so far (their turns came)
        self._waiting = 0  # requests given a turn that has not come yet
        self._reserved = 0  # tokens of the headers' copy those turns hold, in this plan
        self._plan = 0  # changes when new knowledge makes every waiting turn void
        self._planned_rate = self._rate  # the pace the waiting turns were planned at
        self._limited = False  # a 429 came: the start is over
        self._first_sent: float | None = None
        self._bucket: _Bucket | None = None
        self._stated_rate = 0.0  # the rate the headers state, and the bucket size they show
        self._capacity = 0.0
        self._cut_at_number = 0  # a 429 to a request acquired before this one does not cut
        self._last_429 = float("-inf")
        self._answers_at_429 = 0
        self._probed_from: float | None = None  # the pace held quietly before probing up
        self._last_progress = now
        self._last_log = float("-inf")
        self._recent: deque[tuple[float, int]] = deque(maxlen=SAMPLE)  # (when, slot number)
        self._latencies: deque[float] = deque(maxlen=SAMPLE)  # of the latest answers
        self._refusals: deque[_Refusal] = deque(maxlen=REFUSALS)
        self.counts = _Counts()

    @property
    def rate(self) -> float:
        """The current pace in requests/s (from the headers' copy of the bucket, once known)."""
        return self._bucket.rate if self._bucket else self._rate

    def stop(self, cause: BaseException | None = None) -> None:
        """Wake every waiting request, and stop every later one, with `Stopped(cause)`."""
        with self._lock:
            self._stop_cause = self._stop_cause or cause
            self._stop.set()
            self._replanned.notify_all()

    def acquire(self, paced_start: bool = True) -> Slot:
        """Wait for this request's turn; returns it when it may be sent. A turn planned at a
        pace a 429 has since cut is void: the request takes a new one, so the requests waiting
        when a 429 comes do not go out at the old pace.

        `paced_start=False`: a request of a caller that never has more than one in flight (a
        chain of list pages) is not paced until the API has shown a limit (a 429 or its
        headers): it cannot burst, and pacing it costs a fast list its first fraction of a
        second."""
        while True:
            with self._lock:
                now = self._clock()
                if self._first_sent is None:
                    self._first_sent = now
                unpaced = not paced_start and not self.counts.rate_limited and not self._bucket
                answered = self.counts.succeeded > 0
                if unpaced and (answered or self._sent == 0):
                    slot = Slot(now, self._sent)
                    self._sent += 1
                    return slot
                start = max(now, self._paused_until, self._next_slot)
                if unpaced:  # the first answer may carry the limit's headers: wait for it
                    start = max(start, now + 1.0 / START_RATE)
                reserved = self._bucket is not None
                if self._bucket:
                    start = max(start, self._bucket_turn(now))
                    self._reserved += 1
                elif self._rate < MAX_RATE:
                    self._next_slot = start + 1.0 / self._rate
                if self._max_rate:
                    self._next_slot = max(self._next_slot, start + 1.0 / self._max_rate)
                self._check_stalled(start)  # no use waiting past the stall limit
                plan = self._plan
                self._waiting += 1
            try:
                came = self._wait_until(start, plan)
            finally:
                with self._lock:
                    self._waiting -= 1
            if came:
                with self._lock:
                    if reserved and plan == self._plan:
                        self._reserved -= 1  # spent now
                    elif reserved and self._bucket:  # a replan just gave its token back
                        self._bucket.tokens -= 1.0
                    slot = Slot(start, self._sent)
                    self._sent += 1
                return slot

    def pause_caller(self, seconds: float) -> None:
        """Sleep in the calling thread only (a retry's backoff), waking early on `stop()`."""
        self._wait_until(self._clock() + seconds, plan=None)

    def succeeded(self, slot: Slot, headers: RateLimitHeaders | None = None) -> None:
        """An answer (not a 429) to the request sent in `slot`."""
        with self._lock:
            now = self._clock()
            self.counts.succeeded += 1
            self._last_progress = now
            self._recent.append((now, slot.number))
            self._latencies.append(now - slot.at)
            if headers:
                self._copy_bucket(slot, headers, now)
            ceiling = min(self._max_rate or MAX_RATE, MAX_RATE)
            if self._limited:
                quiet = (
                    now - self._last_429 > QUIET_SECONDS
                    and self.counts.succeeded - self._answers_at_429 > QUIET_ANSWERS
                )
                growth = QUIET_GROWTH if quiet else GROWTH
                if quiet and self._probed_from is None:
                    self._probed_from = self._rate
            else:
                growth = START_GROWTH
                answered = self._admitted(since=0)
                if answered:  # a burst the API lets through must not set the pace alone
                    ceiling = min(ceiling, max(2.0 * answered, START_RATE))
                # Answers grow the pace faster the faster they come (without this bound it
                # reaches any rate within a quarter of a second); a bucket's burst, spent by
                # then, would answer every request in flight with a 429. The headers, once
                # known, say the rate themselves.
                started = now - (self._first_sent if self._first_sent is not None else now)
                if not self._bucket:
                    doubling = 2.0 ** (started / START_DOUBLING_SECONDS)
                    ceiling = min(ceiling, START_RATE * doubling)
            self._rate = max(min(self._rate * (1.0 + growth), ceiling), MIN_RATE)
            if self.counts.succeeded == 1 and not self.counts.rate_limited:
                self._replan(now)  # the turns waiting for the first answer: it has come
            elif not self._bucket and self._rate > REPLAN_GROWTH * self._planned_rate:
                self._replan(now)  # turns planned at a much slower pace would hold it back

    def rate_limited(
        self, slot: Slot, retry_after: float | None, headers: RateLimitHeaders | None = None
    ) -> None:
        """A 429 to the request sent in `slot`, asking to wait `retry_after` seconds."""
        with self._lock:
            now = self._clock()
            self.counts.rate_limited += 1
            self._check_stalled(now)
            since_last_429 = now - self._last_429
            self._last_429 = now
            self._answers_at_429 = self.counts.succeeded
            if headers:
                self._copy_bucket(slot, headers, now)
            elif self._bucket:  # the copy was off: the bucket is empty now
                left = min(self._bucket.tokens_at(now), 0.0)
                self._bucket.tokens = left - self._after(slot) - self._reserved
                self._bucket.updated = now
            refill = self._refill_rate(now, retry_after)
            if slot.number >= self._cut_at_number:
                self._cut(now, retry_after, since_last_429, refill)
            wait = retry_after if retry_after is not None else 1.0 / self.rate
            self._paused_until = max(self._paused_until, now + wait)
            self._replan(now)
            if self.counts.rate_limited == 1 or now - self._last_log >= LOG_EVERY_SECONDS:
                self._last_log = now
                LOGGER.info(
                    "The API is rate limiting requests (HTTP 429, %d so far): all workers wait "
                    "%.1f s, then send at most %.1f requests/s%s.",
                    self.counts.rate_limited,
                    wait,
                    self.rate,
                    ", as its rate-limit headers allow"
                    if self._bucket
                    else " and probe back up as answers come",
                )

    def _replan(self, now: float) -> None:
        """Void every waiting turn (called under the lock): the waiting requests plan again
        from the pause, at the pace the 429 set. The copy of the bucket takes back the tokens
        their turns held (once: a second replan before they plan again gives back nothing)."""
        self._plan += 1
        self._planned_rate = self._rate
        self._next_slot = max(now, self._paused_until)
        if self._bucket:
            self._bucket.tokens += self._reserved
        self._reserved = 0
        self._replanned.notify_all()

    def _bucket_turn(self, now: float) -> float:
        """When the copy of the API's bucket has a token for one more request (taken now)."""
        bucket = self._bucket
        assert bucket is not None
        tokens = bucket.tokens_at(now)
        bucket.tokens, bucket.updated = tokens - 1.0, now
        return now if tokens >= 1.0 else now + (1.0 - tokens) / bucket.rate

    def _copy_bucket(self, slot: Slot, headers: RateLimitHeaders, now: float) -> None:
        """What the API says is left, less the requests sent after this one (which it counts
        after it, or will)."""
        first = self._bucket is None
        if first:  # the stated rate ends the start, and a cut made before it
            self._rate = max(self._rate, headers.rate)
            # A 429 to a request sent before the API's limit was known says nothing more.
            self._cut_at_number = self._sent
        # Another client spending the same limit leaves less than the stated rate: 429s cut
        # the pace below it as they do without headers, and answers grow it back.
        rate = min(HEADROOM * headers.rate, self._rate, self._max_rate or MAX_RATE)
        # `remaining` is a whole number: the part of a request refilled since is lost, which
        # on a bucket of a request or two slows every turn. The reset time says it: what the
        # bucket lacks to be full, against its size (the largest the answers have shown).
        refill = headers.reset_seconds * headers.rate
        if headers.rate != self._stated_rate:
            self._stated_rate, self._capacity = headers.rate, 0.0
        self._capacity = max(self._capacity, headers.remaining + refill)
        capacity = max(1.0, self._capacity)
        left = min(headers.remaining + 1.0, max(float(headers.remaining), capacity - refill))
        # Requests sent after this one, and the turns waiting on tokens of this copy, spend
        # from what is left as well.
        tokens = left - self._after(slot) - self._reserved
        predicted = None if first else self._bucket.tokens_at(now)  # type: ignore[union-attr]
        self._bucket = _Bucket(rate, capacity, tokens, now)
        # The waiting turns were planned on a view richer than this: plan them again. A
        # bucket of two or more requests has room for a turn a fraction of a request early
        # (the copy refills slower than the API), so only a whole request's difference counts;
        # a bucket of one has none, and a request sent a few milliseconds late (a thread
        # waking late) would make the next turn, planned before, that much early: a 429.
        slack = min(1.0, max(capacity - 1.0, MIN_SLACK))
        if predicted is None or tokens < predicted - slack:
            self._replan(now)

    def _after(self, slot: Slot) -> int:
        return self._sent - slot.number - 1

    def _refill_rate(self, now: float, retry_after: float | None) -> float | None:
        """The rate the API's bucket refills at for this sync, from two 429s that said when
        its next token comes: the first left it `1 - rate * wait_1` tokens, this one
        `1 - rate * wait_2`, and the answers between spent what came in between, so
        `rate = answers / (t_2 - t_1 - wait_1 + wait_2)`. Exact while the bucket never filled
        up in between (it would have thrown tokens away: then a little low), and unlike the
        rate answers came at, not raised by a burst the bucket had saved. None without a 429
        far enough back to measure over (and for a `retry-after` of whole seconds)."""
        if retry_after is None or retry_after >= 1.0:
            return None
        estimate, least = None, self._measure_seconds()
        for earlier in reversed(self._refusals):
            span = now - earlier.at - earlier.retry_after + retry_after
            answers = self.counts.succeeded - earlier.succeeded
            if span >= least and answers >= MIN_MEASURE_ANSWERS:
                estimate = answers / span
                break
        self._refusals.append(_Refusal(now, retry_after, self.counts.succeeded))
        return estimate

    def _cut(
        self, now: float, retry_after: float | None, since_last_429: float, refill: float | None
    ) -> None:
        """Pace below the rate at which answers came back since the last cut: while the API
        refuses requests, that is the rate it admits. Too soon after a cut to measure it, two
        bounds from above must do: the rate answers came at lately (a burst the API allowed
        at the start counts in it, so it may be high), and one request per `retry-after` (the
        wait for the next request the API admits) when that is under a second. At the 429
        that ends a probe, `refill` (the rate the 429s measure) bounds it too. With the
        headers' copy of the bucket, 429s that keep coming (within `QUIET_SECONDS` of the
        last) mean someone else spends the same limit: the pace steps down by `DECREASE`."""
        if self._bucket:
            self._limited = True
            # One 429 now and then is the copy running a few milliseconds early against a
            # bucket of a request or two: its headers set the copy right again. 429s that
            # keep coming are another client's spending.
            if since_last_429 < QUIET_SECONDS:
                self._rate = max(MIN_RATE, DECREASE * min(self._rate, self._bucket.rate))
                self._bucket.rate = min(self._bucket.rate, self._rate)
            self._cut_at_number = self._sent
            return
        admitted = self._admitted(since=self._cut_at_number)
        if admitted and refill and self._probed_from:
            # The 429 that ends a probe: the answers came fast on a burst the bucket saved
            # while the pace was below its rate. The rate it refills at is the measure (over
            # the QUIET_SECONDS or more since the last 429, so jitter in when answers come
            # hardly counts), but a bucket that filled up threw tokens away (a refill measured
            # low); the pace held quietly before the probe was admitted: never less than that.
            admitted = min(admitted, max(refill, self._probed_from))
        self._probed_from = None
        # A 429 in the sync's first quarter second (a list's first pages go unpaced) says only
        # that the burst is small, not what rate the API admits: the start goes on from the
        # cut, growing as before, until a 429 after it.
        started = self._first_sent if self._first_sent is not None else now
        self._limited = self._limited or now - started >= MIN_MEASURE_SECONDS
        if admitted is None:
            bounds = [self._rate, self._admitted(since=0) or self._rate]
            # Only a wait in milliseconds says when the next request is admitted: a
            # `retry-after` of whole seconds is a rounded-up hint, far below the rate.
            if retry_after and retry_after < 1.0:
                bounds.append(1.0 / retry_after)
            admitted = min(bounds)
        self._rate = max(MIN_RATE, DECREASE * min(self._rate, admitted))
        self._cut_at_number = self._sent

    def _admitted(self, since: int) -> float | None:
        """Requests/s over the fewest latest answers (to requests acquired from number `since`
        on) that make a measure: the rate just now, not an average over a pace that grew.
        None without enough of them to tell; at a rate so high that the whole sample spans
        less than the latencies' spread asks for, the whole sample."""
        times = [when for when, number in self._recent if number >= since]
        least = self._measure_seconds()
        if len(times) == SAMPLE:
            least = min(least, max(MIN_MEASURE_SECONDS, times[-1] - times[0]))
        for first in range(len(times) - MIN_MEASURE_ANSWERS, -1, -1):
            span = times[-1] - times[first]
            if span >= least:
                return (len(times) - 1 - first) / span
        return None

    def _measure_seconds(self) -> float:
        """How long a measure from answer times must span: `MIN_MEASURE_SECONDS`, or
        `JITTER_SPANS` times the spread of the latest answers' latencies when that is longer.
        A rate measured over a quarter second from answers whose latency varies by 0.3 s
        is off by half either way; each cut would then land anywhere."""
        if len(self._latencies) < MIN_MEASURE_ANSWERS:
            return MIN_MEASURE_SECONDS
        ordered = sorted(self._latencies)
        spread = ordered[int(0.9 * (len(ordered) - 1))] - ordered[int(0.1 * (len(ordered) - 1))]
        return max(MIN_MEASURE_SECONDS, JITTER_SPANS * spread)

    def _check_stalled(self, now: float) -> None:
        stalled = now - self._last_progress
        if stalled > self._stall_seconds:
            raise RateLimitStalled(
                f"no request succeeded for {stalled:.0f} s while the API kept answering "
                f"HTTP 429 ({self.counts.rate_limited} times)"
            )

    def _wait_until(self, moment: float, plan: int | None) -> bool:
        """Wait until `moment`: True when it came, False when the turn was planned again
        first (`plan` changed; None: wait whatever happens). A stop raises `Stopped`."""
        while True:
            with self._lock:
                if self._stop.is_set():
                    raise Stopped(self._stop_cause)
                if plan is not None and plan != self._plan:
                    return False
                now = self._clock()
                remaining = moment - now
                if remaining <= 0:
                    return True
                if remaining > 1.0 and now - self._last_log >= LOG_EVERY_SECONDS:
                    self._last_log = now
                    LOGGER.info(
                        "Waiting %.0f s for the API's rate limit before the next request "
                        "(%d requests answered 429 so far).",
                        remaining,
                        self.counts.rate_limited,
                    )
                if self._sleep is None:
                    self._replanned.wait(min(remaining, LONGEST_SLEEP))
                    continue
            self._sleep(min(remaining, LONGEST_SLEEP))
