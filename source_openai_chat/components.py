"""Custom components, each filling one gap in the CDK's declarative parts."""

from __future__ import annotations

from dataclasses import dataclass

import requests
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy


@dataclass
class RetryAfterBackoffStrategy(BackoffStrategy):
    """Waits exactly as long as OpenAI asks: `retry-after-ms`, else `retry-after` (seconds).

    The CDK's `WaitTimeFromHeader` reads one header as seconds and adds a second to it; OpenAI
    sends milliseconds in `retry-after-ms`. Returns None without either header so the next
    strategy (exponential backoff) decides.
    """

    max_wait_seconds: float = 120.0

    def backoff_time(
        self,
        response_or_exception: requests.Response | requests.RequestException | None,
        attempt_count: int,
    ) -> float | None:
        if not isinstance(response_or_exception, requests.Response):
            return None
        headers = response_or_exception.headers
        for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
            try:
                wait = float(headers[name]) * scale
            except (KeyError, ValueError):
                continue
            if wait >= 0:
                return min(wait, self.max_wait_seconds)
        return None
