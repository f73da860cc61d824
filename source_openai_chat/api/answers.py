"""What each answer of the API means, and how long to wait before asking again.

The manifest's requesters use `OpenAIErrorHandler` and `RetryAfterBackoffStrategy`, each filling
one gap in the CDK's declarative parts; `describe_answer` says what the API answered in a few
words for every message about a request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.interpolation import InterpolatedString
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    SUCCESS_RESOLUTION,
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

_PARSED_PAGE = "_source_openai_chat_page"


def page_body(response: requests.Response) -> Any:
    """The decoded JSON page, parsed once (with orjson) and shared by the extractor and the
    paginator, which would otherwise each parse the same 150 KB page again."""
    body = getattr(response, _PARSED_PAGE, None)
    if body is None:
        body = orjson.loads(response.content)
        setattr(response, _PARSED_PAGE, body)
    return body


@dataclass
class RetryAfterBackoffStrategy(BackoffStrategy):
    """Waits exactly as long as OpenAI asks: `retry-after-ms`, else `retry-after` (seconds or an
    HTTP date), capped at `max_wait_seconds` as OpenAI's own SDK does.

    The CDK's `WaitTimeFromHeader` reads one header as seconds and adds a second to it; OpenAI
    sends milliseconds in `retry-after-ms`, and proxies send `retry-after` as a date. Returns
    None without either header so the next strategy (exponential backoff) decides.
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
        for name, parse in (("retry-after-ms", _milliseconds), ("retry-after", _seconds_or_date)):
            wait = parse(headers.get(name))
            if wait is not None and wait >= 0:
                return min(wait, self.max_wait_seconds)
        return None


def _milliseconds(value: str | None) -> float | None:
    try:
        return float(value) / 1000 if value is not None else None
    except ValueError:
        return None


def _seconds_or_date(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


@dataclass
class OpenAIErrorHandler(DefaultErrorHandler):
    """The CDK's `DefaultErrorHandler` with three gaps filled.

    - Total retry time from the config (`max_retry_seconds`): the handler has a `max_time` but
      the manifest's `DefaultErrorHandler` does not expose it (fixed at 600 s).
    - A 200 whose body is not a complete JSON list page (truncated, an HTML page from a proxy)
      is retried as a transient error. Decoded as empty it would end the stream and drop
      records. A predicate filter (`'data' not in response`) can say the same, but it decodes
      every page a second time, with the stdlib `json`.
      This check parses once with orjson and shares the result with the extractor.
    - `x-should-retry: true|false` overrides the filters, as OpenAI's own SDK obeys it first.
    """

    max_retry_seconds: int | str | None = None  # set by the manifest, from the typed config

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        if self.max_retry_seconds is None:
            raise ValueError("OpenAIErrorHandler needs max_retry_seconds")
        seconds = InterpolatedString.create(str(self.max_retry_seconds), parameters=parameters)
        self.max_time = int(seconds.eval(self.config))

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None
    ) -> ErrorResolution:
        if (
            isinstance(response_or_exception, requests.Response)
            and response_or_exception.status_code == 200
        ):
            # Every filter is about errors: a page goes by without them (the quota filter's
            # predicate would otherwise decode every page once more with the stdlib json).
            return SUCCESS_RESOLUTION if _is_list_page(response_or_exception) else INCOMPLETE_PAGE
        resolution = super().interpret_response(response_or_exception)
        if isinstance(response_or_exception, requests.Response):
            return _as_the_server_says(response_or_exception, resolution)
        return resolution


def _as_the_server_says(
    response: requests.Response, resolution: ErrorResolution
) -> ErrorResolution:
    should_retry = (response.headers.get("x-should-retry") or "").strip().lower()
    retrying = resolution.response_action in (ResponseAction.RETRY, ResponseAction.RATE_LIMITED)
    if should_retry == "false" and retrying:
        return ErrorResolution(
            response_action=ResponseAction.FAIL,
            failure_type=FailureType.transient_error,
            error_message=f"{resolution.error_message or 'The request failed'} (the API asked "
            "not to retry it: x-should-retry: false)",
        )
    if should_retry == "true" and resolution.response_action == ResponseAction.FAIL:
        return ErrorResolution(
            response_action=ResponseAction.RETRY,
            failure_type=FailureType.transient_error,
            error_message=resolution.error_message,
        )
    return resolution


INCOMPLETE_PAGE = ErrorResolution(
    response_action=ResponseAction.RETRY,
    failure_type=FailureType.transient_error,
    error_message="The API answered with a body that is not a complete JSON page "
    "(truncated or not JSON).",
)


def _is_list_page(response: requests.Response) -> bool:
    try:
        body = page_body(response)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and isinstance(body.get("data"), list)


# How _describe_exception words a request that never got an answer.
CONNECTION_FAILED = "the connection failed"
CONNECTION_TIMED_OUT = "the connection timed out"
NO_ANSWER = "no answer within the read timeout"
CONNECTION_FAILURE = re.compile(
    rf"({CONNECTION_FAILED}|{CONNECTION_TIMED_OUT}|{NO_ANSWER}|ConnectionError|ConnectTimeout|"
    r"ReadTimeout|NameResolutionError|Failed to resolve|Connection refused|Max retries exceeded)"
)


def retries_exhausted(cause: str) -> AirbyteTracedException:
    """A request that failed on every retry: transient, and the sync can resume."""
    message = (
        f"The API kept failing after every retry ({cause}). The sync stopped; run it again "
        "to continue from the last state it saved."
    )
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.transient_error
    )


def describe_answer(answer: requests.Response | BaseException) -> str:
    """What the API answered, in a few words: the status and OpenAI's own message."""
    if not isinstance(answer, requests.Response):
        return _describe_exception(answer)
    try:
        detail = str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        detail = answer.reason or "no message"
    request_id = answer.headers.get("x-request-id")
    return f"HTTP {answer.status_code}: {detail}" + (
        f" (request id {request_id})" if request_id else ""
    )


ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _describe_exception(error: BaseException) -> str:
    """A failed request in a few words; requests' own text nests three reprs and the URL."""
    if isinstance(error, requests.ConnectTimeout):
        return CONNECTION_TIMED_OUT
    if isinstance(error, requests.ReadTimeout):
        return NO_ANSWER
    if isinstance(error, requests.ConnectionError):
        reason = ERRNO.search(str(error))
        return f"{CONNECTION_FAILED} ({reason.group(0) if reason else type(error).__name__})"
    return f"{type(error).__name__}: {error}"
