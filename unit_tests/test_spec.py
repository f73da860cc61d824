"""The spec: the form 1.1.1 published, generated from the typed config."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.models import AirbyteMessage, Type
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.config import InvalidConfig, parse_config

RELEASED = Path(__file__).parent / "resource" / "released_1_1_1"

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
    "projects",
    "admin_api_key",
    "usage_bucket_width",
    "usage_lookback_days",
}
ADDED_SINCE_1_1_1 = {"projects", "admin_api_key", "usage_bucket_width", "usage_lookback_days"}


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


def test_the_spec_is_the_one_1_1_1_published_plus_the_fields_added_since():
    """Every property, type, default, enum, bound, pattern and secret marking of 1.1.1 stays as
    it was (now generated from config.py); what is new is optional and comes after it."""
    published = json.loads((RELEASED / "spec.json").read_text())
    spec = _printed_spec()
    properties = spec["connectionSpecification"].pop("properties")
    old = published["connectionSpecification"].pop("properties")

    assert spec == published
    assert {name: properties[name] for name in old} == old
    assert set(properties) - set(old) == ADDED_SINCE_1_1_1
    assert min(properties[name]["order"] for name in ADDED_SINCE_1_1_1) > max(
        field["order"] for field in old.values()
    )


def test_the_spec_the_standard_suite_checks_is_the_generated_one():
    expected = Path(__file__).parent.parent / "integration_tests" / "spec.json"

    assert _printed_spec() == json.loads(expected.read_text())


def _printed_spec() -> dict:
    """The spec as `spec` prints it."""
    message = AirbyteMessage(type=Type.SPEC, spec=SourceOpenaiChat().spec(logging.getLogger("t")))
    return json.loads(AirbyteEntrypoint.airbyte_message_to_string(message))["spec"]


# The model's rules beyond the form's JSON schema; a config the form accepts may meet these.
MODEL_ONLY_RULES = (
    "must be an http(s) URL",
    "plain http:// is only allowed",
    "is an organization admin key",
    "must be your Azure endpoint",
    "control characters",
    "must not be blank",
    "must look like 2026",
    "must not name a model twice",
    "must not contain an empty model name",
)


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(from_schema(json.loads((RELEASED / "spec.json").read_text())["connectionSpecification"]))
def test_every_config_1_1_1_accepted_is_accepted(config):
    try:
        parse_config(config)
        refusal = ""
    except InvalidConfig as refused:
        refusal = str(refused)
    assert not refusal or any(rule in refusal for rule in MODEL_ONLY_RULES), refusal


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
