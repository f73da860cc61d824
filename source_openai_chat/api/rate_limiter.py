"""One pace for every messages request of a sync, set by the API's 429s (AIMD).

Why not the CDK's: its HTTP client backs off per request, so each worker waits alone while the
others keep sending, and every 429 counts against `max_retries` (a busy sync then fails while
it is only being asked to slow down). The manifest's `api_budget` shares one limit between
workers, but only a limit known in advance: OpenAI does not publish these endpoints' limits,
and its `x-ratelimit-reset-*` headers are durations (`6m0s`), which the CDK reads as epochs.

How it paces: unpaced (or at `max_requests_per_second`) until the first 429. A 429 pauses the
whole pool for its `retry-after-ms`/`retry-after` and sets the pace to `DECREASE` x the rate
at which answers get through: before the first 429 that is measured over the whole sync so
far (a burst the API allowed at the start counts for less), after it over the last
`SAMPLE` successes, which then arrive exactly as fast as the API admits them. One cut per round
trip: a 429 to a request sent before the last cut does not cut again, and a cut never raises
the pace. While answers come back the pace grows by `GROWTH` a second, so it probes back up
to the limit and stays just under it, whatever the limit is; after `QUIET_SECONDS` without a
429 it grows by `FAST_GROWTH` a second, so a few stray 429s do not slow a long sync for long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

LOGGER = logging.getLogger("airbyte")

DECREASE = 0.8  # the pace after a 429, as a share of the rate that gets through
GROWTH = 0.1  # the pace grows by this share a second while answers come back
FAST_GROWTH = 0.5  # ... and by this share once no 429 came for QUIET_SECONDS
QUIET_SECONDS = 5.0
MIN_RATE = 0.5  # requests/s: never slower, whatever the API says
SAMPLE = 10  # successes that measure the admitted rate once the API limits the sync
MIN_MEASURE_SECONDS = 0.2  # fewer successes than SAMPLE must span at least this long
MIN_MEASURE_SUCCESSES = 3  # ... and number at least this many
LOG_EVERY_SECONDS = 60.0  # at least one line a minute while the pool waits (Airbyte kills a
# source that stays silent)
LONGEST_SLEEP = 15.0  # a long wait is slept in slices, to log and to notice a stop


class RateLimitStalled(Exception):
    """No request of the pool succeeded for longer than the stall limit."""


class Stopped(Exception):
    """The sync is ending (another request failed): waiting requests give up. `cause` is the
    failure that stopped it, to report instead of this."""

    def __init__(self, cause: BaseException | None = None) -> None:
        super().__init__("the sync is stopping")
        self.cause = cause


@dataclass
class _Counts:
    rate_limited: int = 0
    succeeded: int = 0


class SharedRateLimiter:
    """Paces requests from many threads: `acquire()` before sending, then report the answer."""

    def __init__(
        self,
        max_rate: float | None,
        stall_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        self._max_rate = max_rate
        self._rate = max_rate  # None: unpaced
        self._stall_seconds = stall_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait  # by default a stop wakes the sleepers
        self._stop_cause: BaseException | None = None
        now = clock()
        self._started = now
        self._next_slot = now
        self._paused_until = now
        self._limited_since: float | None = None  # the first 429
        self._last_cut = float("-inf")
        self._last_progress = now
        self._last_increase = now
        self._last_log = float("-inf")
        self._recent: deque[float] = deque(maxlen=SAMPLE)  # answers to requests sent after
        # the first 429
        self.counts = _Counts()

    @property
    def rate(self) -> float | None:
        """The current pace in requests/s (None: unpaced)."""
        return self._rate

    def stop(self, cause: BaseException | None = None) -> None:
        """Wake every waiting request, and stop every later one, with `Stopped(cause)`."""
        with self._lock:
            self._stop_cause = self._stop_cause or cause
        self._stop.set()

    def acquire(self) -> float:
        """Wait for this request's turn; returns when it may be sent (the time it is sent)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._paused_until, self._next_slot)
            self._check_stalled(start)  # no use waiting past the stall limit
            if self._rate:
                self._next_slot = start + 1.0 / self._rate
        self._wait_until(start)
        return start

    def pause_caller(self, seconds: float) -> None:
        """Sleep in the calling thread only (a retry's backoff), waking early on `stop()`."""
        self._wait_until(self._clock() + seconds)

    def succeeded(self, sent_at: float) -> None:
        """An answer (not a 429) to a request sent at `sent_at`."""
        with self._lock:
            now = self._clock()
            self.counts.succeeded += 1
            self._last_progress = now
            if self._limited_since is not None and sent_at >= self._limited_since:
                self._recent.append(now)
            if self._rate is not None:
                growth = FAST_GROWTH if now - self._last_cut > QUIET_SECONDS else GROWTH
                grown = self._rate * (1.0 + growth) ** (now - self._last_increase)
                self._rate = min(grown, self._max_rate) if self._max_rate else grown
            self._last_increase = now

    def rate_limited(self, sent_at: float, retry_after: float | None) -> None:
        """A 429 to a request sent at `sent_at`, asking to wait `retry_after` seconds."""
        with self._lock:
            now = self._clock()
            self.counts.rate_limited += 1
            self._check_stalled(now)
            if sent_at >= self._last_cut:
                self._cut(now)
            wait = retry_after if retry_after is not None else 2.0 / (self._rate or 1.0)
            self._paused_until = max(self._paused_until, now + wait)
            if self.counts.rate_limited == 1 or now - self._last_log >= LOG_EVERY_SECONDS:
                self._last_log = now
                LOGGER.info(
                    "The API is rate limiting requests (HTTP 429, %d so far): all workers wait "
                    "%.1f s, then send at most %.1f requests/s and speed up as answers come back.",
                    self.counts.rate_limited,
                    wait,
                    self._rate or 0.0,
                )

    def _cut(self, now: float) -> None:
        if self._limited_since is None:
            self._limited_since = now
            if self.counts.succeeded < MIN_MEASURE_SUCCESSES:
                return  # a 429 among the first requests says nothing of the rate: pause only
            # Whatever the API let through so far, spread over at least a second: a burst it
            # allowed at the start must not set a pace it cannot keep.
            admitted = self.counts.succeeded / max(now - self._started, 1.0)
            base = min(self._rate, admitted) if self._rate else admitted
            self._rate = max(MIN_RATE, DECREASE * base)
        else:
            admitted = self._admitted(now)
            if admitted is None:  # too early to tell: the pause alone slows the pool
                return
            self._rate = max(MIN_RATE, min(self._rate or admitted, DECREASE * admitted))
        self._last_cut = now
        self._last_increase = now

    def _admitted(self, now: float) -> float | None:
        """Requests/s the API answers while it limits the sync, or None without a measure."""
        if len(self._recent) == SAMPLE:
            span = now - self._recent[0]
            return (SAMPLE - 1) / span if span > 0 else None
        span = now - (self._limited_since or now)
        if len(self._recent) < MIN_MEASURE_SUCCESSES or span < MIN_MEASURE_SECONDS:
            return None  # no answers yet says nothing about the rate: the pause must do
        return len(self._recent) / span

    def _check_stalled(self, now: float) -> None:
        stalled = now - self._last_progress
        if stalled > self._stall_seconds:
            raise RateLimitStalled(
                f"no request succeeded for {stalled:.0f} s while the API kept answering "
                f"HTTP 429 ({self.counts.rate_limited} times)"
            )

    def _wait_until(self, moment: float) -> None:
        while True:
            if self._stop.is_set():
                raise Stopped(self._stop_cause)
            remaining = moment - self._clock()
            if remaining <= 0:
                return
            with self._lock:
                now = self._clock()
                if remaining > 1.0 and now - self._last_log >= LOG_EVERY_SECONDS:
                    self._last_log = now
                    LOGGER.info(
                        "Waiting %.0f s for the API's rate limit before the next request "
                        "(%d requests answered 429 so far).",
                        remaining,
                        self.counts.rate_limited,
                    )
            self._sleep(min(remaining, LONGEST_SLEEP))
