"""Custom components and error wording."""

from __future__ import annotations

import json

import pytest
import requests
from airbyte_cdk.models import AirbyteErrorTraceMessage, FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.answers import (
    OpenAIErrorHandler,
    RetryAfterBackoffStrategy,
    describe_answer,
    page_body,
)
from source_openai_chat.api.paging import ApiPage, next_after
from source_openai_chat.cdk_seam import CONCURRENT_SUMMARY
from source_openai_chat.components import ReadBySource
from source_openai_chat.errors import closing_summary, explain_check_failure


def _response(headers: dict[str, str]) -> requests.Response:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    return response


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after": "3600"}, 120.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date already past
        ({"retry-after": "Fri, 01 Jan 2100 00:00:00 GMT"}, 120.0),  # far ahead: capped
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_backoff_waits_what_openai_asks(headers, wait):
    assert RetryAfterBackoffStrategy().backoff_time(_response(headers), attempt_count=1) == wait


def test_retry_after_backoff_defers_on_exceptions():
    assert RetryAfterBackoffStrategy().backoff_time(requests.ConnectionError(), 1) is None


def test_check_failure_repr_is_unwrapped_to_the_reason():
    raw = (
        "'Stream chat_completions is not available: OpenAI rejected the API key: Incorrect API key'"
    )

    assert (
        explain_check_failure(raw, "https://x/v1")
        == "OpenAI rejected the API key: Incorrect API key"
    )


def test_check_failure_on_connection_error_names_base_url():
    raw = "'Stream chat_completions is not available: ConnectionError: Max retries exceeded'"

    message = explain_check_failure(raw, "http://127.0.0.1:9/v1")

    assert "base_url http://127.0.0.1:9/v1" in message


@pytest.mark.parametrize(
    "cause",
    [
        "the connection failed ([Errno -2] Name or service not known)",
        "the connection timed out",
        "no answer within the read timeout",
    ],
)
def test_check_failure_our_client_describes_as_unreachable_names_base_url(cause):
    raw = f"'Stream chat_completions is not available: The API kept failing ({cause}).'"

    message = explain_check_failure(raw, "https://gateway.example.com/v1")

    assert "Could not reach the API at base_url https://gateway.example.com/v1" in message


def _stream_error(message: str, failure_type: FailureType) -> AirbyteErrorTraceMessage:
    return AirbyteErrorTraceMessage(message=message, failure_type=failure_type)


def test_the_closing_summary_says_what_the_first_stream_error_said():
    summary = AirbyteTracedException(
        message="During the sync, the following streams did not sync successfully: ...",
        internal_message=CONCURRENT_SUMMARY,
        failure_type=FailureType.config_error,
    )
    first = _stream_error(
        "The API kept failing after every retry (HTTP 500: x (request id req_1)).",
        FailureType.transient_error,
    )

    fixed = closing_summary(summary, [first, _stream_error("other", FailureType.system_error)])

    assert fixed.failure_type == FailureType.transient_error
    assert fixed.message == first.message
    assert "did not sync successfully" in fixed.internal_message


def test_other_errors_are_left_as_they_are():
    other = AirbyteTracedException(
        message="x", internal_message="y", failure_type=FailureType.config_error
    )

    assert closing_summary(other, [_stream_error("z", FailureType.transient_error)]) is other


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            requests.ConnectTimeout("HTTPSConnectionPool(...): timed out"),
            "the connection timed out",
        ),
        (requests.ReadTimeout("read timed out"), "no answer within the read timeout"),
        (
            requests.ConnectionError(
                "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /v1 "
                '(Caused by NewConnectionError("...: Failed to establish a new connection: '
                '[Errno 111] Connection refused"))'
            ),
            "the connection failed ([Errno 111] Connection refused)",
        ),
    ],
)
def test_a_failed_request_is_described_in_a_few_words(error, said):
    assert describe_answer(error) == said


def _page(body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    return response


@pytest.mark.parametrize(
    ("body", "previous", "expected"),
    [
        ({"data": [{"id": "a"}, {"id": "b"}], "last_id": "b", "has_more": True}, None, "b"),
        ({"data": [{"id": "a"}, {"id": "b"}], "has_more": True}, "z", "b"),  # no last_id
        ({"data": [{"id": "a"}], "last_id": "a", "has_more": False}, "z", None),
        ({"data": [], "last_id": None, "has_more": True}, "z", None),
    ],
)
def test_paging_follows_the_last_id_until_the_end(body, previous, expected):
    page = ApiPage(body["data"], body["has_more"], body.get("last_id"))

    assert next_after(page, previous) == expected


def test_paging_refuses_a_page_that_does_not_advance():
    stuck = ApiPage([{"id": "a"}, {"id": "b"}], True, "b")

    with pytest.raises(AirbyteTracedException, match="same page again") as refused:
        next_after(stuck, "b")

    assert refused.value.failure_type == FailureType.transient_error


def test_page_body_is_parsed_once_and_cached_on_the_response():
    response = _page({"object": "list", "data": [{"id": "a"}], "has_more": False})

    assert page_body(response) == {"object": "list", "data": [{"id": "a"}], "has_more": False}
    assert page_body(response) is page_body(response)


def test_a_stream_the_source_did_not_replace_refuses_to_be_read():
    with pytest.raises(RuntimeError, match=r"read by SourceOpenaiChat\.streams"):
        list(ReadBySource(parameters={}).read_records({}))


def _body(status: int, content: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = content
    return response


@pytest.mark.parametrize(
    "content",
    [b'{"object":"list","data":[{"id":"chatcmpl-tr', b"<html>502 Bad Gateway</html>", b"{}"],
    ids=["truncated", "html", "no data"],
)
def test_error_handler_retries_a_200_that_is_not_a_complete_page(content):
    handler = OpenAIErrorHandler(config={}, parameters={}, max_retry_seconds=600)

    resolution = handler.interpret_response(_body(200, content))

    assert resolution.response_action == ResponseAction.RETRY
    assert resolution.failure_type == FailureType.transient_error


def test_error_handler_accepts_a_page_and_shares_its_parse():
    handler = OpenAIErrorHandler(config={}, parameters={}, max_retry_seconds=600)
    response = _body(200, b'{"object":"list","data":[],"has_more":false}')

    resolution = handler.interpret_response(response)

    assert resolution.response_action == ResponseAction.SUCCESS
    response._content = b"changed"  # the extractor gets the page already parsed
    assert page_body(response) == {"object": "list", "data": [], "has_more": False}


def test_error_handler_takes_its_total_retry_time_from_the_config():
    handler = OpenAIErrorHandler(
        config={"max_retry_seconds": 42},
        parameters={},
        max_retry_seconds="{{ config['max_retry_seconds'] }}",
    )

    assert handler.max_time == 42
