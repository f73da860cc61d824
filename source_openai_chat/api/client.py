"""Requests to the API: one page of one endpoint, retried as api/answers.py says.

Why not the CDK's HttpClient: its retry loop counts every 429 against `max_retries` and backs
each thread off alone, so a busy sync failed while it was only being asked to slow down, and
its per-request work capped what concurrent workers could gain on two cores. Here every 429 waits
on the sync's shared limiter and is not a failure; other retries count against `max_retries`
and `max_retry_seconds`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.tcp_keepalive import TcpKeepaliveHTTPAdapter
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import HTTPAdapter

from source_openai_chat.api.answers import (
    Answer,
    Reading,
    RetriesExhausted,
    Verdict,
    backoff_seconds,
    describe_answer,
    meaning_of,
    page_body,
    retry_after_seconds,
)
from source_openai_chat.api.endpoint import Endpoint
from source_openai_chat.api.paging import ApiPage
from source_openai_chat.api.rate_limit_headers import parse_rate_limit_headers
from source_openai_chat.api.rate_limiter import RateLimitStalled, SharedRateLimiter

LOGGER = logging.getLogger("airbyte")


@dataclass(frozen=True)
class Retries:
    """How long a request keeps being retried (429s aside): the config's two bounds."""

    max_retries: int
    max_seconds: float


@dataclass(frozen=True)
class Skipped:
    """An answer with nothing to read (a 404), with its message."""

    status: int | None
    message: str


class ApiClient:
    """`page(params, completion_id)`: one page of `endpoint`, retried as answers.py says.
    `paced_start=False` for a client each of whose callers sends one request at a time (see
    `SharedRateLimiter.acquire`)."""

    def __init__(
        self,
        endpoint: Endpoint,
        reading: Reading,
        retries: Retries,
        limiter: SharedRateLimiter,
        connections: int = 1,
        clock: Callable[[], float] = time.monotonic,
        paced_start: bool = True,
    ) -> None:
        self._endpoint = endpoint
        self._paced_start = paced_start  # False: one request in flight at a time (a chain)
        self._reading = reading
        self._retries = retries
        self._limiter = limiter
        self._clock = clock
        self._session = _session_without_per_request_environment(endpoint.url())
        adapter = _KeepaliveAdapter(pool_connections=1, pool_maxsize=max(connections, 1))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def page(
        self, params: Mapping[str, Any], completion_id: str | None = None
    ) -> ApiPage | Skipped:
        """One page; the endpoint's own parameters plus `params`. `completion_id` fills the
        URL of a per-completion endpoint."""
        url = self._endpoint.url(completion_id)
        query = {**self._endpoint.params, **params}
        started = self._clock()
        attempt = 0
        while True:
            try:
                slot = self._limiter.acquire(self._paced_start)
            except RateLimitStalled as stalled:
                raise _rate_limit_failure(str(stalled)) from None
            answer: Answer
            try:
                # Prepared without the session's per-request merging (cookies, hooks, the
                # environment), which nothing here uses.
                request = requests.Request("GET", url, params=query, headers=self._endpoint.headers)
                answer = self._session.send(request.prepare(), timeout=self._endpoint.timeouts)
            except requests.RequestException as error:
                answer = error
            meaning = meaning_of(answer, self._reading)
            limits = (
                parse_rate_limit_headers(answer.headers)
                if isinstance(answer, requests.Response)
                else None
            )
            if meaning.verdict == Verdict.PAGE:
                self._limiter.succeeded(slot, limits)
                body = page_body(answer)  # type: ignore[arg-type]
                return ApiPage(
                    body.get("data") or [],
                    bool(body.get("has_more")),
                    body.get("last_id"),
                    body.get("next_page"),
                )
            if meaning.verdict in (Verdict.SKIP, Verdict.NOT_FOUND):
                self._limiter.succeeded(slot, limits)
                status = answer.status_code if isinstance(answer, requests.Response) else None
                return Skipped(status, meaning.message or describe_answer(answer))
            if meaning.verdict == Verdict.FAIL:
                message = meaning.message or describe_answer(answer)
                raise AirbyteTracedException(
                    message=message,
                    internal_message=message,
                    failure_type=meaning.failure_type or FailureType.system_error,
                )
            if meaning.verdict == Verdict.RATE_LIMITED:
                self._limiter.rate_limited(slot, retry_after_seconds(answer), limits)
                continue
            attempt += 1
            waited = self._clock() - started
            if attempt > self._retries.max_retries or waited > self._retries.max_seconds:
                raise RetriesExhausted(answer)
            wait = backoff_seconds(answer, attempt)
            LOGGER.info(
                "Retrying in %.1f s (attempt %d of %d): %s",
                wait,
                attempt,
                self._retries.max_retries,
                describe_answer(answer),
            )
            self._limiter.pause_caller(wait)


class _Adapter(HTTPAdapter):
    """Works out a host's connection-pool settings once instead of on every request (with a
    CA bundle from the environment, requests stats its path every time)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        url = urlsplit(request.url or "")
        key = (url.scheme, url.netloc, verify, cert)
        if key not in self._pool_keys:
            self._pool_keys[key] = super().build_connection_pool_key_attributes(
                request, verify, cert
            )
        host, pool = self._pool_keys[key]
        return dict(host), dict(pool)


class _KeepaliveAdapter(_Adapter, TcpKeepaliveHTTPAdapter):
    """The same, with the CDK's TCP keepalive on every pooled connection."""


def _session_without_per_request_environment(url: str) -> requests.Session:
    """A session that reads the proxy and CA settings of the environment once, here.

    With `trust_env` requests looks them up again on every request (and a ~/.netrc, whose
    credentials would replace the key's header), on the messages read's hot path.
    """
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session


def _rate_limit_failure(detail: str) -> AirbyteTracedException:
    message = (
        f"The API kept rate limiting the sync ({detail}); it stopped after max_retry_seconds "
        "without progress. Run it again to continue from the last state it saved, or lower "
        "num_workers / max_requests_per_second."
    )
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )
