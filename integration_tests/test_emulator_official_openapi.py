"""The emulator's answers held to OpenAI's official OpenAPI operations (openapi-core).

Our emulator agrees with the connector by construction; this holds it to what OpenAI itself
documents. The official schemas are a floor, not the truth (OpenAI's own examples break them),
so each place where the emulator follows the real API instead is listed below with its reason.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from integration_tests.emulator import TEST_ADMIN_KEY, TEST_API_KEY, Emulator
from unit_tests.official_openapi import openapi_document, organization_schemas

# (path of the value, failed JSON-schema keyword): why the real API, and so the emulator, differs.
FOLLOWS_THE_REAL_API = {
    (r"(data\.\d+\.)?choices\.\d+\.message\.tool_calls", "type"): "null when no tool was called",
    (r"(data\.\d+\.)?choices\.\d+\.message\.function_call", "type"): "null when not used",
    (r"data\.\d+\.role", "enum"): "input messages are system, user, developer, tool... too",
    (r"data\.\d+", "required"): "input messages carry no `refusal`",
    # The tool call's discriminator has no mapping, so openapi-core looks for a schema named
    # after the value ("function", "custom"): a quirk of the description, not of the data.
    (r"(data\.\d+\.)?choices\.\d+\.message\.tool_calls\.\d+", "oneOf"): "discriminator",
}
# What OpenAI documented after the packaged description was synced (2026-05-31), as its
# openai-openapi repository has it at commit f85dbe2: not a difference of the real API's.
NEWER_THAN_THE_PACKAGED_DESCRIPTION = {
    (r"(data\.\d+\.)?service_tier", "anyOf"): "the `fast` tier",
}


def deviations(api: OpenAPI, response: requests.Response) -> list[tuple[str, str, str]]:
    result = api.unmarshal_response(
        RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
    )
    found = []
    for error in result.errors:
        cause = error.__cause__ or error
        for schema_error in getattr(cause, "schema_errors", None) or []:
            path = ".".join(str(part) for part in schema_error.absolute_path)
            found.append((path, schema_error.validator, schema_error.message))
        if not getattr(cause, "schema_errors", None):
            found.append(("", type(cause).__name__, str(cause)))
    return found


def unexplained(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [
        (path, keyword, message)
        for path, keyword, message in found
        if not any(
            keyword == allowed_keyword and re.fullmatch(pattern, path)
            for pattern, allowed_keyword in {
                **FOLLOWS_THE_REAL_API,
                **NEWER_THAN_THE_PACKAGED_DESCRIPTION,
            }
        )
    ]


@pytest.fixture
def official(emulator: Emulator) -> OpenAPI:
    return OpenAPI.from_dict(openapi_document(emulator.base_url))


def get(emulator: Emulator, path: str, **params: Any) -> requests.Response:
    return requests.get(
        f"{emulator.base_url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {TEST_API_KEY}"},
        timeout=10,
    )


def test_list_pages_follow_the_official_operation(emulator, official):
    first = get(emulator, "/chat/completions", order="desc", limit=100)
    after = first.json()["last_id"]

    for page in (first, get(emulator, "/chat/completions", order="desc", limit=100, after=after)):
        assert page.status_code == 200
        assert unexplained(deviations(official, page)) == []


def test_a_completion_and_its_messages_follow_the_official_operations(emulator, official):
    completion_id = max(emulator.store.messages, key=lambda cid: len(emulator.store.messages[cid]))

    answers = [
        get(emulator, f"/chat/completions/{completion_id}"),
        get(emulator, f"/chat/completions/{completion_id}/messages", limit=100),
    ]

    for answer in answers:
        assert answer.status_code == 200
        assert unexplained(deviations(official, answer)) == []


def test_the_listed_differences_are_all_still_needed(emulator, official):
    pages = [get(emulator, "/chat/completions", order="desc", limit=100)]
    pages += [
        get(emulator, f"/chat/completions/{cid}/messages", limit=100)
        for cid, messages in list(emulator.store.messages.items())[:40]
        if messages
    ]

    seen = {(p, k) for page in pages for p, k, _ in deviations(official, page)}

    for pattern, keyword in FOLLOWS_THE_REAL_API:
        assert any(k == keyword and re.fullmatch(pattern, p) for p, k in seen), pattern


def test_the_organizations_answers_follow_the_official_operations(emulator, official):
    admin = {"Authorization": f"Bearer {TEST_ADMIN_KEY}"}
    grouped = [("group_by", name) for name in ("project_id", "user_id", "model", "batch")]
    start = ("start_time", str(min(r["created"] for r in emulator.completions())))
    answers = [
        requests.get(f"{emulator.base_url}{path}", params=params, headers=admin, timeout=10)
        for path, params in (
            ("/organization/projects", [("include_archived", "true")]),
            ("/organization/usage/completions", [start, ("limit", "3"), *grouped]),
            ("/organization/costs", [start, ("limit", "3"), ("group_by", "line_item")]),
        )
    ]

    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]
        # A bucket's results are a oneOf with a discriminator and no mapping: openapi-core looks
        # for a schema named after `object` (a quirk of the description, as for tool calls).
        # Each result is checked against its own schema below instead.
        found = deviations(official, answer)
        assert unexplained([d for d in found if not RESULTS_ONE_OF.fullmatch(d[0])]) == []
    schemas = organization_schemas()
    for answer, stream in zip(answers[1:], ("usage_completions", "costs"), strict=True):
        validator = jsonschema.Draft202012Validator(schemas[stream])
        results = [r for bucket in answer.json()["data"] for r in bucket["results"]]
        assert results
        for result in results:
            validator.validate(result)


RESULTS_ONE_OF = re.compile(r"data\.\d+\.results\.\d+")
