"""The spec as a form, and its agreement with the typed config model."""

from __future__ import annotations

import logging
from typing import Any

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.config import OpenAIChatConfig, with_defaults

PUBLIC_KEYS = {
    "api_key",
    "api_provider",
    "base_url",
    "organization_id",
    "project_id",
    "start_date",
    "lookback_window_minutes",
    "page_size",
    "models",
    "metadata_filter",
    "max_retries",
    "max_retry_seconds",
    "num_workers",
    "max_requests_per_second",
}


def _spec() -> dict:
    return SourceOpenaiChat().spec(logging.getLogger("test")).connectionSpecification


def test_spec_has_exactly_the_public_config_keys_and_only_api_key_required():
    spec = _spec()

    assert set(spec["properties"]) == PUBLIC_KEYS
    assert spec["required"] == ["api_key"]


def test_api_key_is_a_secret():
    assert _spec()["properties"]["api_key"]["airbyte_secret"] is True


def test_every_field_has_title_description_examples_and_a_unique_order():
    properties = _spec()["properties"]

    for name, field in properties.items():
        assert field.get("title"), name
        assert len(field.get("description", "")) > 20, name
        assert field.get("examples"), name
    orders = [field["order"] for field in properties.values()]
    assert sorted(orders) == list(range(len(properties)))


# What the form shows but the model has no use for: words, layout, widgets.
FORM_ONLY = {"title", "description", "examples", "order", "group", "groups", "airbyte_secret",
             "pattern_descriptor", "format", "$schema", "discriminator"}  # fmt: skip


def _rules(schema: Any, defs: dict[str, Any]) -> Any:
    """A JSON schema reduced to what a value must satisfy (types, defaults, bounds, patterns,
    enums, nesting), so the spec and the model's schema compare key for key. An optional
    field (`X | None = None` in the model, simply not required in the spec) reads as X."""
    if isinstance(schema, list):
        return [_rules(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return _rules(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    if schema.get("default", ...) is None:
        schema = {k: v for k, v in schema.items() if k != "default"}
    return {key: _rules(value, defs) for key, value in schema.items() if key not in FORM_ONLY}


def test_spec_and_typed_model_state_the_same_rules_for_every_field():
    """Both directions: every property, default, bound, pattern and enum of the form is the
    model's, and the model has nothing the form lacks (nested objects and options included)."""
    model_schema = OpenAIChatConfig.model_json_schema()
    defs = model_schema.pop("$defs")
    spec = _rules(_spec(), {})
    model = _rules(model_schema, defs)

    assert set(spec["properties"]) == set(model["properties"])
    for name in spec["properties"]:
        assert spec["properties"][name] == model["properties"][name], name
    assert {k: v for k, v in spec.items() if k != "properties"} == {
        k: v for k, v in model.items() if k != "properties"
    }


def test_the_model_applies_exactly_the_spec_defaults():
    """The config every part of the connector reads has the form's defaults, no others."""
    applied = with_defaults({"api_key": "sk-test"})
    spec = _spec()["properties"]

    for name, field in spec.items():
        if name != "api_key":  # required: no default
            assert applied.get(name) == field.get("default"), name


def test_every_field_is_in_a_declared_form_group_and_only_the_key_is_required():
    spec = _spec()
    groups = {group["id"] for group in spec["groups"]}

    assert {field["group"] for field in spec["properties"].values()} == groups
    assert spec["required"] == ["api_key"]
    assert all(
        "default" in field
        for name, field in spec["properties"].items()
        if name in ("base_url", "lookback_window_minutes", "page_size", "max_retries")
    )


def test_a_manifest_yaml_in_the_working_directory_is_not_read(tmp_path, monkeypatch):
    """The CDK's YamlDeclarativeSource opens ./manifest.yaml before its package's."""
    (tmp_path / "manifest.yaml").write_text("version: 0.0.1\nstreams: []\n")
    monkeypatch.chdir(tmp_path)

    assert "api_key" in _spec()["properties"]
