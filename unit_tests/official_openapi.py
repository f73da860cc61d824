"""OpenAI's official OpenAPI description of these operations, as a test helper.

`../shared/reference/openai-openapi-stored-chat-completions.json` is the official spec's
operations and schemas for this API, copied unchanged; these helpers turn it into plain JSON
schemas and into the JSON types each field path may take, to compare the connector against.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT.parent / "shared" / "reference" / "openai-openapi-stored-chat-completions.json"

Types = dict[str, set[str]]  # field path ("choices[].message.content") -> JSON types, no null


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


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
