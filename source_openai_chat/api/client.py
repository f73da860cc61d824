"""Requests to the API on a lean path that keeps the manifest's rules.

Why not the requester's `send_request`: its per-request work (rendering the URL, headers,
parameters and key through Jinja, then preparing the session) capped how much concurrent
workers could gain on two cores, and its retry loop counts every 429 against `max_retries` and
backs each thread off alone, so a busy sync failed while it was only being asked to slow down.
This client renders one of the manifest's requesters once (URL, headers with the key, query
parameters, timeouts, keepalive) and asks the same requester's error handler what each answer
means (its filters say what fails, what is skipped and what is retried, with which message).
Only the waiting differs: every 429 the handler retries goes to the sync's shared limiter and
is not a failure; other retries follow the manifest's backoff strategies and count against
`max_retries` and `max_retry_seconds`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters import HttpRequester
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.streams.http.tcp_keepalive import TcpKeepaliveHTTPAdapter
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from requests.adapters import HTTPAdapter

from source_openai_chat.api.answers import (
    RetryAfterBackoffStrategy,
    describe_answer,
    page_body,
    retries_exhausted,
)
from source_openai_chat.api.paging import ApiPage
from source_openai_chat.api.rate_limit_headers import parse_rate_limit_headers
from source_openai_chat.api.rate_limiter import RateLimitStalled, SharedRateLimiter

LOGGER = logging.getLogger("airbyte")

_PLACEHOLDER = "__completion_id__"
_RETRY_AFTER = RetryAfterBackoffStrategy()
Answer = requests.Response | requests.RequestException


@dataclass(frozen=True)
class Skipped:
    """An answer the error handler says to skip (IGNORE), with its message."""

    status: int | None
    message: str


class ApiClient:
    """`page(params, completion_id)`: one page of a list, retried as the manifest says."""

    def __init__(
        self,
        requester: HttpRequester,
        limiter: SharedRateLimiter,
        connections: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        url = requester.get_url(
            stream_slice=StreamSlice(partition={"completion_id": _PLACEHOLDER}, cursor_slice={})
        )
        self._url_head, _, self._url_tail = url.partition(_PLACEHOLDER)
        self._headers = {
            **requester.get_request_headers(),
            **requester.get_authenticator().get_auth_header(),
        }
        self._params: dict[str, Any] = dict(requester.get_request_params())
        self._timeout = (requester.connect_timeout_in_seconds, requester.read_timeout_in_seconds)
        if requester.error_handler is None:
            raise ValueError(f"the {requester.name} requester needs the manifest's error handler")
        self._error_handler: Any = requester.error_handler
        self._limiter = limiter
        self._clock = clock
        self._session = _session_without_per_request_environment(url)
        adapter_type = _KeepaliveAdapter if requester.use_tcp_keepalive else _Adapter
        adapter = adapter_type(pool_connections=1, pool_maxsize=max(connections, 1))
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def page(
        self, params: Mapping[str, Any], completion_id: str | None = None
    ) -> ApiPage | Skipped:
        """One page; the requester's own parameters plus `params`. `completion_id` fills the
        URL of a per-completion requester."""
        url = self._url_head
        if completion_id is not None:
            url += quote(completion_id, safe="") + self._url_tail
        query = {**self._params, **params}
        started = self._clock()
        attempt = 0
        while True:
            try:
                slot = self._limiter.acquire()
            except RateLimitStalled as stalled:
                raise _rate_limit_failure(str(stalled)) from None
            answer: Answer
            try:
                # Prepared without the session's per-request merging (cookies, hooks, the
                # environment), which nothing here uses.
                request = requests.Request("GET", url, params=query, headers=self._headers)
                answer = self._session.send(request.prepare(), timeout=self._timeout)
            except requests.RequestException as error:
                answer = error
            resolution = self._error_handler.interpret_response(answer)
            action = resolution.response_action
            limits = (
                parse_rate_limit_headers(answer.headers)
                if isinstance(answer, requests.Response)
                else None
            )
            if action == ResponseAction.SUCCESS:
                self._limiter.succeeded(slot, limits)
                body = page_body(answer)  # type: ignore[arg-type]
                return ApiPage(
                    body.get("data") or [], bool(body.get("has_more")), body.get("last_id")
                )
            if action == ResponseAction.IGNORE:
                self._limiter.succeeded(slot, limits)
                status = answer.status_code if isinstance(answer, requests.Response) else None
                return Skipped(status, resolution.error_message or describe_answer(answer))
            if action == ResponseAction.FAIL:
                message = resolution.error_message or describe_answer(answer)
                raise AirbyteTracedException(
                    message=message,
                    internal_message=message,
                    failure_type=resolution.failure_type or FailureType.system_error,
                )
            if _is_rate_limit(answer):
                self._limiter.rate_limited(slot, _RETRY_AFTER.backoff_time(answer, 0), limits)
                continue
            attempt += 1
            waited = self._clock() - started
            if attempt > self._error_handler.max_retries or waited > self._error_handler.max_time:
                raise retries_exhausted(describe_answer(answer))
            wait = self._backoff(answer, attempt)
            LOGGER.info(
                "Retrying in %.1f s (attempt %d of %d): %s",
                wait,
                attempt,
                self._error_handler.max_retries,
                describe_answer(answer),
            )
            self._limiter.pause_caller(wait)

    def _backoff(self, answer: Answer, attempt: int) -> float:
        for strategy in self._error_handler.backoff_strategies or []:
            wait = strategy.backoff_time(answer, attempt)
            if wait is not None:
                return float(wait)
        return float(2**attempt)


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


def _is_rate_limit(answer: Answer) -> bool:
    """Every 429 the error handler retries is a rate limit (a quota 429 fails before this)."""
    return isinstance(answer, requests.Response) and answer.status_code == 429


def _rate_limit_failure(detail: str) -> AirbyteTracedException:
    message = (
        f"The API kept rate limiting the sync ({detail}); it stopped after max_retry_seconds "
        "without progress. Run it again to continue from the last state it saved, or lower "
        "num_workers / max_requests_per_second."
    )
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )
