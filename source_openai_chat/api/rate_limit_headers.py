"""OpenAI's `x-ratelimit-*-requests` headers, read when an answer carries them.

OpenAI documents them for its model endpoints (`x-ratelimit-limit-requests: 60000`,
`x-ratelimit-remaining-requests: 59999`, `x-ratelimit-reset-requests: 1ms`, a Go duration such
as `6m0s` or `1.5s`), not for the stored-completions lists: they may come, or not, or come
malformed. Whatever cannot be read as a whole set is ignored, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

LIMIT = "x-ratelimit-limit-requests"
REMAINING = "x-ratelimit-remaining-requests"
RESET = "x-ratelimit-reset-requests"

_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)")


@dataclass(frozen=True)
class RateLimitHeaders:
    """One answer's view of the request limit."""

    limit_per_minute: int
    remaining: int
    reset_seconds: float  # until the limit is back to its full allowance

    @property
    def rate(self) -> float:
        """Requests a second the limit refills at."""
        return self.limit_per_minute / 60.0


def parse_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitHeaders | None:
    """The three headers, or None when any is missing or not what OpenAI sends."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        limit = int(lowered[LIMIT].strip())
        remaining = int(lowered[REMAINING].strip())
    except (KeyError, ValueError):
        return None
    reset = parse_duration(lowered.get(RESET, ""))
    if reset is None or limit <= 0 or not 0 <= remaining <= limit:
        return None
    return RateLimitHeaders(limit, remaining, reset)


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration (`20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`, `0s`) or a bare
    number of seconds; None for anything else."""
    text = text.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    return total if position == len(text) else None
