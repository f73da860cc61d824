"""Custom components and error wording."""

from __future__ import annotations

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.components import RetryAfterBackoffStrategy
from source_openai_chat.errors import (
    CONCURRENT_SUMMARY,
    explain_check_failure,
    with_stream_failure_type,
)


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
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, None),
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


def test_concurrent_summary_takes_the_failure_type_of_the_first_stream_error():
    summary = AirbyteTracedException(
        message="During the sync...",
        internal_message=CONCURRENT_SUMMARY,
        failure_type=FailureType.config_error,
    )

    fixed = with_stream_failure_type(
        summary, [FailureType.transient_error, FailureType.system_error]
    )

    assert fixed.failure_type == FailureType.transient_error
    assert fixed.message == summary.message


def test_other_errors_keep_their_failure_type():
    other = AirbyteTracedException(
        message="x", internal_message="y", failure_type=FailureType.config_error
    )

    assert with_stream_failure_type(other, [FailureType.transient_error]) is other
