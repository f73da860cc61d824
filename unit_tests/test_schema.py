"""The streams' JSON schemas: open to new fields, nullable, and true to real records."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, Type

from source_openai_chat import SourceOpenaiChat
from unit_tests.builders import template

CONFIG = {"api_key": "sk-test-unit-0000000000"}
RELEASED = Path(__file__).parent / "resource" / "released_1_1_1"


PRIMARY_KEYS = {"chat_completions": {".id"}, "chat_completion_messages": {".id", ".completion_id"}}


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """The discovered schemas, once per process (not at import: every worker collects)."""
    catalog = SourceOpenaiChat().discover(logging.getLogger("test"), CONFIG)
    return {stream.name: stream.json_schema for stream in catalog.streams}


@pytest.fixture(params=sorted(PRIMARY_KEYS))
def stream_schema(request) -> tuple[str, dict[str, Any]]:
    return request.param, schemas()[request.param]


@pytest.fixture
def schema() -> dict[str, Any]:
    return schemas()["chat_completions"]


def _subschemas(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from _subschemas(sub, f"{path}.{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield f"{path}[]", items
        yield from _subschemas(items, f"{path}[]")


def test_the_connector_has_exactly_these_streams():
    assert set(schemas()) == set(PRIMARY_KEYS)


def test_every_property_but_the_primary_key_is_nullable(stream_schema):
    name, schema = stream_schema
    for path, sub in _subschemas(schema):
        if path not in PRIMARY_KEYS[name]:
            assert "null" in sub.get("type", []), path


def test_no_enum_that_a_new_api_value_would_break(stream_schema):
    assert not [path for path, sub in _subschemas(stream_schema[1]) if "enum" in sub]


def test_objects_accept_new_fields(stream_schema):
    schema = stream_schema[1]
    assert schema["additionalProperties"] is True
    for path, sub in _subschemas(schema):
        if "object" in sub.get("type", []) and "properties" in sub:
            assert sub.get("additionalProperties") is True, path


def test_seed_is_an_integer_so_int64_values_stay_exact(schema):
    assert "integer" in schema["properties"]["seed"]["type"]


def test_the_api_example_validates(schema):
    jsonschema.Draft7Validator(schema).validate(template("chat_completion"))


def test_discover_without_an_admin_key_gives_1_1_1s_catalog_plus_the_project_column():
    """Same streams, keys, cursors, sync modes and schemas as 1.1.1 (the schemas moved to
    schemas/*.json in 1.2.0); 1.3.0 adds one nullable column to each, `project_id`."""
    published = json.loads((RELEASED / "catalog.json").read_text())
    catalog = SourceOpenaiChat().discover(logging.getLogger("test"), CONFIG)
    discovered = json.loads(AirbyteEntrypoint.airbyte_message_to_string(
        AirbyteMessage(type=Type.CATALOG, catalog=catalog)))["catalog"]  # fmt: skip

    for stream in discovered["streams"]:
        added = stream["json_schema"]["properties"].pop("project_id")
        assert added["type"] == ["null", "string"]
    assert discovered == published
