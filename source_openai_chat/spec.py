"""The spec Airbyte draws the connector's form from, generated from the typed config.

config.py owns every field's type, default, bounds, pattern, words and place in the form;
this module writes them as Airbyte's `connectionSpecification`: a draft-07 object schema with
the form's extras (`order`, `group`, `airbyte_secret`, ...) and no `$ref`, whose optional
fields are not nullable (the form leaves them out instead).
"""

from __future__ import annotations

import functools
from typing import Any

from airbyte_cdk.models import ConnectorSpecification
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from source_openai_chat.config import ADVANCED, CONNECTION, FILTERS, OpenAIChatConfig

DOCUMENTATION_URL = "https://docs.airbyte.com/integrations/sources/openai-chat"
GROUPS = [
    {"id": CONNECTION, "title": "Connection"},
    {"id": FILTERS, "title": "What to sync"},
    {"id": ADVANCED, "title": "Advanced"},
]


class _AirbyteForm(GenerateJsonSchema):
    """pydantic's JSON schema, in the shape Airbyte's form expects."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        # `X | None`: an optional field is left out of the config, never sent as null.
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        generated = super().default_schema(schema)
        if generated.get("default", ...) is None:
            del generated["default"]
        return generated

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # only the titles config.py writes

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        generated = super().model_schema(schema)
        generated.pop("description", None)  # a docstring is for developers, not the form
        if not schema["cls"].model_config.get("title"):
            generated.pop("title", None)  # the class name
        return generated

    def tagged_union_schema(self, schema: core_schema.TaggedUnionSchema) -> JsonSchemaValue:
        generated = super().tagged_union_schema(schema)
        generated.pop("discriminator", None)  # the form tells the options apart by `const`
        return generated

    def literal_schema(self, schema: core_schema.LiteralSchema) -> JsonSchemaValue:
        generated = super().literal_schema(schema)
        if "const" in generated:
            generated.pop("enum", None)  # one value: `const` says it
        return generated


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """Every `$ref` replaced by its definition: the form does not follow references."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, definitions) for value in node]
    return node


@functools.cache
def connection_specification() -> dict[str, Any]:
    generated = OpenAIChatConfig.model_json_schema(schema_generator=_AirbyteForm)
    definitions = generated.pop("$defs", {})
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        **_inline(generated, definitions),
        "additionalProperties": True,
        "groups": GROUPS,
    }


def specification() -> ConnectorSpecification:
    return ConnectorSpecification(
        documentationUrl=DOCUMENTATION_URL,
        connectionSpecification=connection_specification(),
        supportsNormalization=False,
        supportsDBT=False,
    )
