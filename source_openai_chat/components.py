"""Custom components, each filling one gap in the CDK's declarative parts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import InitVar, dataclass
from typing import Any

import orjson
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.interpolation import InterpolatedString
from airbyte_cdk.sources.declarative.requesters.error_handlers import DefaultErrorHandler
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.sources.declarative.transformations import RecordTransformation
from airbyte_cdk.sources.streams.http.error_handlers import BackoffStrategy
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import Config, Record, StreamSlice

from source_openai_chat.feed_reader import Page, next_after

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


@dataclass
class AdvancingCursorPagination(PaginationStrategy):
    """OpenAI's list paging (`after` = the page's last id) that can never loop.

    The CDK's `CursorPagination` requests whatever token the page yields: a server that answers
    the same page again, so that its last id does not advance, would be asked for it forever.
    This strategy takes the next id as the list reader does (`feed_reader.next_after`): it
    stops on `has_more: false` or an empty page (with a warning when an empty page claims
    more), falls back to the last item's id when `last_id` is missing (some OpenAI-compatible
    servers leave it out), and fails the sync with a clear message when the id does not advance.
    """

    config: Config
    parameters: InitVar[Mapping[str, Any]]
    page_size: int | str = 100

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        size = InterpolatedString.create(str(self.page_size), parameters=parameters)
        self._page_size = int(size.eval(self.config))

    @property
    def initial_token(self) -> Any | None:
        return None

    def next_page_token(
        self,
        response: requests.Response,
        last_page_size: int,
        last_record: Record | None,
        last_page_token_value: Any | None,
        page_size_override: int | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> Any | None:
        body = page_body(response)
        page = Page(body.get("data") or [], bool(body.get("has_more")), body.get("last_id"))
        return next_after(page, last_page_token_value)

    def get_page_size(self) -> int | None:
        return self._page_size


@dataclass
class ListDataExtractor(RecordExtractor):
    """The items of an OpenAI list page: `response.json()["data"]`.

    Same result as the CDK's `DpathExtractor` with `field_path: [data]`, which walks the whole
    decoded page through `dpath` for every response; on 100-record pages that walk cost more
    than parsing the JSON itself. A body without a `data` list yields nothing (the error
    handler has already retried a page that is not a complete JSON list).
    """

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        body = page_body(response)
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, list) else []


@dataclass
class AddCompletionFields(RecordTransformation):
    """Adds the parent's `completion_id` and `completion_created` to each input message.

    The CDK's `AddFields` does the same by rendering a Jinja template per field and per record;
    with one partition per completion, those renders were as costly as building the requests
    themselves, and CPU bounds how much the concurrent messages read gains from more workers.
    """

    def transform(
        self,
        record: dict[str, Any],
        config: Config | None = None,
        stream_state: Any | None = None,
        stream_slice: StreamSlice | None = None,
    ) -> None:
        if stream_slice is None:
            return
        record["completion_id"] = stream_slice.partition.get("completion_id")
        record["completion_created"] = stream_slice.extra_fields.get("created")


@dataclass
class OpenAIErrorHandler(DefaultErrorHandler):
    """The CDK's `DefaultErrorHandler` with two gaps filled.

    - Total retry time from the config (`max_retry_seconds`): the handler has a `max_time` but
      the manifest's `DefaultErrorHandler` does not expose it (fixed at 600 s).
    - A 200 whose body is not a complete JSON list page (truncated, an HTML page from a proxy)
      is retried as a transient error. Decoded as empty it would end the stream and drop
      records. A predicate filter (`'data' not in response`) can say the same, but it decodes
      every page with the stdlib `json`, a second full parse that cost a fifth of the read.
      This check parses once with orjson and shares the result with the extractor.
    """

    max_retry_seconds: int | str = 600

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        seconds = InterpolatedString.create(str(self.max_retry_seconds), parameters=parameters)
        self.max_time = int(seconds.eval(self.config))

    def interpret_response(
        self, response_or_exception: requests.Response | Exception | None
    ) -> ErrorResolution:
        if (
            isinstance(response_or_exception, requests.Response)
            and response_or_exception.status_code == 200
            and not _is_list_page(response_or_exception)
        ):
            return INCOMPLETE_PAGE
        return super().interpret_response(response_or_exception)


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
