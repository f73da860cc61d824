"""The `chat_completions` JSON schema: open to new fields, nullable, and true to real records."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from integration_tests.emulator import generate
from source_openai_chat import SourceOpenaiChat
from unit_tests.builders import template

CONFIG = {"api_key": "sk-test-unit-0000000000"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    catalog = SourceOpenaiChat(config=CONFIG).discover(logging.getLogger("test"), CONFIG)
    return next(s.json_schema for s in catalog.streams if s.name == "chat_completions")


def _subschemas(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}.{name}", sub
        yield from _subschemas(sub, f"{path}.{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield f"{path}[]", items
        yield from _subschemas(items, f"{path}[]")


def test_every_property_but_the_primary_key_is_nullable(schema):
    for path, sub in _subschemas(schema):
        if path != ".id":
            assert "null" in sub.get("type", []), path


def test_no_enum_that_a_new_api_value_would_break(schema):
    assert not [path for path, sub in _subschemas(schema) if "enum" in sub]


def test_objects_accept_new_fields(schema):
    assert schema["additionalProperties"] is True
    for path, sub in _subschemas(schema):
        if "object" in sub.get("type", []) and "properties" in sub:
            assert sub.get("additionalProperties") is True, path


def test_seed_is_an_integer_so_int64_values_stay_exact(schema):
    assert "integer" in schema["properties"]["seed"]["type"]


def test_api_example_and_generated_records_validate(schema):
    records = [template("chat_completion"), *generate(300).completions]

    for record in records:
        jsonschema.validate(record, schema)
