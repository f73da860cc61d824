"""The request path: the endpoint a config makes, retried as the answers table says."""

from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.answers import Reading
from source_openai_chat.api.client import ApiClient, Retries, Skipped
from source_openai_chat.api.endpoint import messages_endpoint, projects
from source_openai_chat.api.paging import ApiPage
from source_openai_chat.api.rate_limiter import SharedRateLimiter
from source_openai_chat.config import parse_config
from source_openai_chat.streams.messages_fetch import MessagesFetcher
from unit_tests.builders import API_KEY, LIST_URL, ConfigBuilder, FakeClock, template

MESSAGES_URL = f"{LIST_URL}/chat-1/messages"
PAGE = {"object": "list", "data": [{"id": "chat-1-0"}], "last_id": "chat-1-0", "has_more": False}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def client(clock: FakeClock, **config) -> tuple[ApiClient, SharedRateLimiter]:
    parsed = parse_config(ConfigBuilder().with_(**config).build())
    limiter = SharedRateLimiter(None, 600.0, clock=clock, sleep=clock.sleep)
    retries = Retries(parsed.max_retries, parsed.max_retry_seconds)
    endpoint = messages_endpoint(parsed, projects(parsed)[0])
    return ApiClient(endpoint, Reading.MESSAGES, retries, limiter, clock=clock), limiter


def request(**headers: str) -> HttpRequest:
    return HttpRequest(MESSAGES_URL, query_params={"order": "asc"}, headers=headers or None)


def answer(status: int, body: dict, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(json.dumps(body), status, headers or {})


def test_a_page_is_requested_with_the_configs_url_headers_and_parameters(clock):
    api, _ = client(clock, organization_id="org-1", project_id="proj_1")
    sent = HttpRequest(
        MESSAGES_URL,
        query_params={"order": "asc", "limit": "100"},
        headers={"Authorization": f"Bearer {API_KEY}", "OpenAI-Organization": "org-1",
                 "OpenAI-Project": "proj_1"},
    )  # fmt: skip
    with HttpMocker() as http:
        http.get(sent, answer(200, PAGE))

        page = api.page({"limit": 100}, "chat-1")

    assert page == ApiPage([{"id": "chat-1-0"}], False, "chat-1-0")


def test_every_request_has_connect_and_read_timeouts():
    """A stalled connection is retried like a 5xx instead of hanging the sync."""
    assert messages_endpoint(
        parse_config(ConfigBuilder().build()), projects(parse_config(ConfigBuilder().build()))[0]
    ).timeouts == (30.0, 120.0)


def test_429s_without_a_code_wait_on_the_limiter_and_never_count_as_retries(clock):
    api, limiter = client(clock, max_retries=1)
    no_code = {"error": {"message": "Too Many Requests", "type": "requests", "code": None}}
    with HttpMocker() as http:
        http.get(request(), [answer(429, no_code)] * 4 + [answer(200, PAGE)])

        page = api.page({}, "chat-1")

    assert isinstance(page, ApiPage)
    assert limiter.counts.rate_limited == 4


def test_a_server_error_on_every_retry_is_a_transient_error_saying_what_the_api_answered(clock):
    api, _ = client(clock, max_retries=2)
    sent = request()
    with HttpMocker() as http:
        http.get(sent, [answer(500, template("error_500"))] * 3)

        with pytest.raises(AirbyteTracedException) as failed:
            api.page({}, "chat-1")
        http.assert_number_of_calls(sent, 3)

    assert failed.value.failure_type == FailureType.transient_error
    assert "kept failing after every retry (HTTP 500" in failed.value.message
    assert clock.now == pytest.approx(1 + 2)  # 1 s, then 2 s


def test_retry_after_is_honoured_on_a_5xx(clock):
    api, _ = client(clock)
    with HttpMocker() as http:
        http.get(
            request(),
            [answer(503, template("error_500"), {"retry-after-ms": "2500"}), answer(200, PAGE)],
        )

        api.page({}, "chat-1")

    assert clock.now == pytest.approx(2.5)


def test_an_answer_that_fails_is_asked_once_and_raised_as_the_table_says(clock):
    api, _ = client(clock)
    sent = request()
    with HttpMocker() as http:
        http.get(sent, answer(401, template("error_401"), {"x-request-id": "req_1"}))

        with pytest.raises(AirbyteTracedException) as failed:
            api.page({}, "chat-1")
        http.assert_number_of_calls(sent, 1)

    assert failed.value.failure_type == FailureType.config_error
    assert failed.value.message.startswith("The API rejected the API key (HTTP 401)")


def test_a_completion_gone_is_skipped_with_its_message(clock):
    api, _ = client(clock)
    with HttpMocker() as http:
        http.get(request(), answer(404, template("error_404")))

        skipped = api.page({}, "chat-1")

    assert isinstance(skipped, Skipped)
    assert skipped.status == 404
    assert "no longer exists" in skipped.message


def test_messages_that_lead_back_to_an_earlier_page_fail_instead_of_looping():
    class LoopingClient:
        def page(self, params, completion_id=None):
            after = params.get("after")
            if after in (None, "c-1"):  # after page B the server answers page A again
                return ApiPage([{"id": "c-0"}], True, "c-0")
            return ApiPage([{"id": "c-1"}], True, "c-1")

    with pytest.raises(AirbyteTracedException, match="back to a page"):
        MessagesFetcher(LoopingClient(), page_size=1).messages("c")
