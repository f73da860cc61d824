"""What each answer means (api/answers.py): the table, the waits, the words."""

from __future__ import annotations

import json

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.answers import (
    Reading,
    RetriesExhausted,
    Verdict,
    backoff_seconds,
    describe_answer,
    meaning_of,
    page_body,
    retry_after_seconds,
)
from source_openai_chat.api.paging import ApiPage, next_after
from unit_tests.builders import template


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
def test_retry_after_waits_what_openai_asks(headers, wait):
    assert retry_after_seconds(_response(headers)) == wait


@pytest.mark.parametrize(("attempt", "wait"), [(1, 1.0), (2, 2.0), (3, 4.0)])
def test_without_a_retry_after_the_wait_doubles_from_one_second(attempt, wait):
    assert backoff_seconds(requests.ConnectionError(), attempt) == wait


def _answer(status: int, body: dict | bytes, headers: dict[str, str] | None = None):
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers.update({"x-request-id": "req_1", **(headers or {})})
    return response


QUOTA = {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                   "code": "insufficient_quota"}}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "body", "verdict", "failure_type", "words"),
    [
        (401, "error_401", Verdict.FAIL, FailureType.config_error,
         "The API rejected the API key (HTTP 401): Incorrect API key"),
        (401, "error_401_scope", Verdict.FAIL, FailureType.config_error,
         "The API key is valid but lacks a permission: You have insufficient"),
        (403, "error_403", Verdict.FAIL, FailureType.config_error,
         "The API refused access (HTTP 403): Country, region, or territory"),
        (429, QUOTA, Verdict.FAIL, FailureType.config_error,
         "The OpenAI account has no quota left (HTTP 429 insufficient_quota)"),
        (400, "error_400", Verdict.FAIL, FailureType.config_error,
         "The API refused the request (HTTP 400/404; check base_url)"),
        (429, "error_429", Verdict.RATE_LIMITED, FailureType.transient_error, None),
        (500, "error_500", Verdict.RETRY, FailureType.transient_error, None),
        (418, {}, Verdict.RETRY, FailureType.transient_error, None),
    ],
)  # fmt: skip
def test_each_error_answer_has_one_meaning(status, body, verdict, failure_type, words):
    answer = _answer(status, template(body) if isinstance(body, str) else body)

    meaning = meaning_of(answer, Reading.LIST)

    assert (meaning.verdict, meaning.failure_type) == (verdict, failure_type)
    if words:
        assert meaning.message.startswith(words)
        assert meaning.message.endswith("(request id req_1)")


def test_a_404_is_the_list_readers_to_decide_and_a_gone_completion_is_skipped():
    gone = _answer(404, template("error_404"))

    assert meaning_of(gone, Reading.LIST).verdict == Verdict.NOT_FOUND
    skipped = meaning_of(gone, Reading.MESSAGES)
    assert skipped.verdict == Verdict.SKIP
    assert skipped.message.startswith("Skipped the messages of a completion that no longer")


def test_a_request_without_an_answer_is_retried():
    assert meaning_of(requests.ReadTimeout(), Reading.LIST).verdict == Verdict.RETRY


def test_x_should_retry_overrides_the_table_both_ways():
    refused = meaning_of(_answer(503, {}, {"x-should-retry": "false"}), Reading.LIST)
    retried = meaning_of(_answer(400, {}, {"x-should-retry": "true"}), Reading.LIST)

    assert refused.verdict == Verdict.FAIL
    assert refused.message.endswith("(the API asked not to retry it: x-should-retry: false)")
    assert retried.verdict == Verdict.RETRY


@pytest.mark.parametrize(
    ("last_answer", "unreachable"),
    [(requests.ConnectionError(), True), (requests.ReadTimeout(), True), (_answer(500, {}), False)],
)
def test_retries_exhausted_is_transient_and_says_whether_the_api_answered(last_answer, unreachable):
    exhausted = RetriesExhausted(last_answer)

    assert exhausted.failure_type == FailureType.transient_error
    assert exhausted.message.startswith("The API kept failing after every retry (")
    assert exhausted.unreachable is unreachable


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
def test_a_200_that_is_not_a_complete_page_is_retried(content):
    meaning = meaning_of(_body(200, content), Reading.LIST)

    assert meaning.verdict == Verdict.RETRY
    assert meaning.failure_type == FailureType.transient_error


def test_a_page_is_parsed_once_for_its_check_and_its_reader():
    response = _body(200, b'{"object":"list","data":[],"has_more":false}')

    assert meaning_of(response, Reading.LIST).verdict == Verdict.PAGE
    response._content = b"changed"  # the reader gets the page already parsed
    assert page_body(response) == {"object": "list", "data": [], "has_more": False}
