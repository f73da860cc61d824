"""What each answer of the API means: one table, read top to bottom, first match wins.

Every rule about an answer lives here: which ones fail the sync (and as which failure type,
with which message), which are retried, which are a rate limit, which are skipped or handed
back to the list reader, and how long to wait before asking again. api/client.py applies it.
Every message about an API answer ends with OpenAI's request id (support asks for it).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

Answer = requests.Response | requests.RequestException
MAX_WAIT_SECONDS = 120.0  # the longest a retry-after is obeyed, as OpenAI's own SDK caps it
BACKOFF_FACTOR = 0.5  # without a retry-after: 1, 2, 4, 8... seconds


class Verdict(enum.Enum):
    PAGE = "page"  # a page: read it
    FAIL = "fail"  # end the sync with the row's failure type and message
    RETRY = "retry"  # ask again after a backoff, counted against max_retries
    RATE_LIMITED = "rate_limited"  # wait on the shared limiter; not counted as a retry
    SKIP = "skip"  # nothing to read here: log the message and go on
    NOT_FOUND = "not_found"  # the list reader decides (with `after` set, that id was deleted)


class Reading(enum.Enum):
    """What a request reads, which decides what a 404 means and how a refused key is told."""

    LIST = "list"  # the list: a 404 goes back to the reader
    MESSAGES = "messages"  # one completion's messages: a 404 means it was deleted meanwhile
    ORGANIZATION = "organization"  # projects, usage, costs: only an admin key may read them


@dataclass(frozen=True)
class Meaning:
    verdict: Verdict
    failure_type: FailureType | None = None
    message: str | None = None


@dataclass(frozen=True)
class OpenAIError:
    """The parts of an error answer the rows look at (OpenAI's `{"error": {...}}` body)."""

    status: int
    message: str | None
    code: str | None
    type: str | None
    request_id: str | None

    @classmethod
    def of(cls, response: requests.Response) -> OpenAIError:
        try:
            error = orjson.loads(response.content).get("error")
        except (orjson.JSONDecodeError, AttributeError):
            error = None
        error = error if isinstance(error, dict) else {}
        return cls(
            response.status_code,
            _text(error.get("message")),
            _text(error.get("code")),
            _text(error.get("type")),
            response.headers.get("x-request-id"),
        )

    def said(self, otherwise: str) -> str:
        """OpenAI's message (else `otherwise`) with the request id."""
        return (self.message or otherwise) + self.request_id_suffix()

    def request_id_suffix(self) -> str:
        return f" (request id {self.request_id})" if self.request_id else ""


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Row:
    """One rule: the statuses it covers (None: any) and what else must hold."""

    statuses: frozenset[int] | None
    verdict: Verdict
    failure_type: FailureType | None = None
    message: Callable[[OpenAIError], str] | None = None
    holds: Callable[[OpenAIError], bool] = lambda error: True

    def matches(self, error: OpenAIError) -> bool:
        return (self.statuses is None or error.status in self.statuses) and self.holds(error)


def _lacks_permission(error: OpenAIError) -> bool:
    said = error.message or ""
    return "Missing scopes" in said or "insufficient permissions" in said


def _out_of_quota(error: OpenAIError) -> bool:
    return "insufficient_quota" in (error.code, error.type)


CONFIG = FailureType.config_error
TRANSIENT = FailureType.transient_error
ADMIN_KEY_REFUSED = (
    "'admin_api_key' must be an organization admin key (sk-admin-..., Organization settings "
    "→ Admin keys) that can read usage and costs."
)
READING_ROWS = {
    Reading.LIST: (
        Row(frozenset({404}), Verdict.NOT_FOUND, message=lambda e: e.said("not found")),
    ),
    Reading.MESSAGES: (
        Row(
            frozenset({404}),
            Verdict.SKIP,
            message=lambda e: (
                "Skipped the messages of a completion that no longer exists "
                f"(HTTP 404): {e.said('not found')}"
            ),
        ),
    ),
    # A project or user key answers 401 or 403 here ("Missing scopes: api.usage.read").
    Reading.ORGANIZATION: (
        Row(
            frozenset({401, 403}),
            Verdict.FAIL,
            CONFIG,
            lambda e: (
                f"The API refused the admin API key (HTTP {e.status}): "
                f"{e.said('Unauthorized')} {ADMIN_KEY_REFUSED}"
            ),
        ),
    ),
}
ROWS = (
    # A restricted key without the Chat Completions read scope: OpenAI answers 401 too.
    Row(
        None,
        Verdict.FAIL,
        CONFIG,
        lambda e: (
            f"The API key is valid but lacks a permission: {e.message} Grant it in the "
            "OpenAI dashboard (API keys, edit the key, Permissions: Chat completions Read, or use "
            "an unrestricted key) in the project that stores the completions."
            + e.request_id_suffix()
        ),
        holds=_lacks_permission,
    ),
    Row(
        frozenset({401}),
        Verdict.FAIL,
        CONFIG,
        lambda e: f"The API rejected the API key (HTTP 401): {e.said('Unauthorized')}",
    ),
    Row(
        frozenset({403}),
        Verdict.FAIL,
        CONFIG,
        lambda e: f"The API refused access (HTTP 403): {e.said('Forbidden')}",
    ),
    # An exhausted quota: waiting cannot fix billing.
    Row(
        None,
        Verdict.FAIL,
        CONFIG,
        lambda e: (
            "The OpenAI account has no quota left (HTTP 429 insufficient_quota); check "
            f"the plan and billing details: {e.said('')}"
        ),
        holds=_out_of_quota,
    ),
    Row(
        frozenset({400, 404}),
        Verdict.FAIL,
        CONFIG,
        lambda e: (
            "The API refused the request (HTTP 400/404; check base_url): " + e.said("no message")
        ),
    ),
    Row(frozenset({429}), Verdict.RATE_LIMITED, TRANSIENT),
    Row(frozenset({408, 409, 500, 502, 503, 504}), Verdict.RETRY, TRANSIENT),
    Row(frozenset({405}), Verdict.FAIL, FailureType.system_error),
    # Any other status: retried, then a transient error saying what the API answered.
    Row(None, Verdict.RETRY, TRANSIENT),
)

INCOMPLETE_PAGE = Meaning(
    Verdict.RETRY,
    TRANSIENT,
    "The API answered with a body that is not a complete JSON page (truncated or not JSON).",
)


def meaning_of(answer: Answer, reading: Reading) -> Meaning:
    """What `answer` means. A request that got no answer is retried; a 2xx must be a complete
    JSON page (a truncated body or a proxy's HTML page, decoded as empty, would end the list
    and drop records); then the rows decide, and `x-should-retry` has the last word, as OpenAI's
    own SDK obeys it first."""
    if not isinstance(answer, requests.Response):
        return Meaning(Verdict.RETRY, TRANSIENT)
    if answer.ok:
        return Meaning(Verdict.PAGE) if _is_page(answer) else INCOMPLETE_PAGE
    error = OpenAIError.of(answer)
    row = next(row for row in (*READING_ROWS[reading], *ROWS) if row.matches(error))
    meaning = Meaning(row.verdict, row.failure_type, row.message(error) if row.message else None)
    return _as_the_server_says(answer, meaning)


def _as_the_server_says(response: requests.Response, meaning: Meaning) -> Meaning:
    should_retry = (response.headers.get("x-should-retry") or "").strip().lower()
    retrying = meaning.verdict in (Verdict.RETRY, Verdict.RATE_LIMITED)
    if should_retry == "false" and retrying:
        said = meaning.message or describe_answer(response)
        return Meaning(
            Verdict.FAIL,
            TRANSIENT,
            f"{said} (the API asked not to retry it: x-should-retry: false)",
        )
    if should_retry == "true" and meaning.verdict == Verdict.FAIL:
        return Meaning(Verdict.RETRY, TRANSIENT, meaning.message)
    return meaning


_PARSED_PAGE = "_source_openai_chat_page"


def page_body(response: requests.Response) -> Any:
    """The decoded JSON page, parsed once (with orjson) for the check and the reader."""
    body = getattr(response, _PARSED_PAGE, None)
    if body is None:
        body = orjson.loads(response.content)
        setattr(response, _PARSED_PAGE, body)
    return body


def _is_page(response: requests.Response) -> bool:
    try:
        body = page_body(response)
    except orjson.JSONDecodeError:
        return False
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def backoff_seconds(answer: Answer, attempt: int) -> float:
    """How long to wait before retry number `attempt` (from 1): what OpenAI asks, else
    0.5 * 2**attempt."""
    asked = retry_after_seconds(answer)
    return asked if asked is not None else BACKOFF_FACTOR * 2**attempt


def retry_after_seconds(answer: Answer | None) -> float | None:
    """`retry-after-ms`, else `retry-after` (seconds or an HTTP date), capped at
    MAX_WAIT_SECONDS; None without either. OpenAI sends milliseconds in `retry-after-ms`, and
    proxies send `retry-after` as a date."""
    if not isinstance(answer, requests.Response):
        return None
    for name, parse in (("retry-after-ms", _milliseconds), ("retry-after", _seconds_or_date)):
        wait = parse(answer.headers.get(name))
        if wait is not None and wait >= 0:
            return min(wait, MAX_WAIT_SECONDS)
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


class RetriesExhausted(AirbyteTracedException):
    """A request that failed on every retry: transient, and the sync can resume."""

    def __init__(self, last_answer: Answer) -> None:
        message = (
            f"The API kept failing after every retry ({describe_answer(last_answer)}). The "
            "sync stopped; run it again to continue from the last state it saved."
        )
        super().__init__(message=message, internal_message=message, failure_type=TRANSIENT)
        # No answer at all: the base URL or the network is wrong (the check says so).
        self.unreachable = not isinstance(last_answer, requests.Response)


def describe_answer(answer: Answer) -> str:
    """What the API answered, in a few words: the status and OpenAI's own message."""
    if not isinstance(answer, requests.Response):
        return _describe_exception(answer)
    error = OpenAIError.of(answer)
    return f"HTTP {answer.status_code}: {error.said(answer.reason or 'no message')}"


ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def _describe_exception(error: BaseException) -> str:
    """A failed request in a few words; requests' own text nests three reprs and the URL."""
    if isinstance(error, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(error, requests.ReadTimeout):
        return "no answer within the read timeout"
    if isinstance(error, requests.ConnectionError):
        reason = ERRNO.search(str(error))
        return f"the connection failed ({reason.group(0) if reason else type(error).__name__})"
    return f"{type(error).__name__}: {error}"
