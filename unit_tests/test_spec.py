"""The spec as a form, and its agreement with the typed config model."""

from __future__ import annotations

import logging

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.config import OpenAIChatConfig

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


def test_spec_and_typed_model_agree_on_fields_and_defaults():
    spec = _spec()["properties"]
    model = OpenAIChatConfig.model_fields

    assert set(model) == set(spec)
    for name, field in spec.items():
        if "default" in field:
            assert model[name].default == field["default"], name


def test_spec_bounds_match_the_typed_model():
    spec = _spec()["properties"]

    assert (spec["page_size"]["minimum"], spec["page_size"]["maximum"]) == (1, 100)
    assert spec["lookback_window_minutes"]["minimum"] == 0
    assert (spec["max_retries"]["minimum"], spec["max_retries"]["maximum"]) == (0, 20)


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
