"""metadata.yaml against Airbyte's own metadata schema, as Airbyte's registry checks it.

The schema comes from `airbyte-connector-models` (Airbyte's generated models and JSON schemas,
published on PyPI; a dev dependency), so it is Airbyte's, not a copy of ours.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())
SCHEMA_PACKAGE = "airbyte_connector_models.metadata.v0"


def _without_nested_ids(node: Any, root: bool = True) -> Any:
    """The bundled schema keeps each source file's `$id` on its sub-schemas while its `$ref`s
    point from the document's root ("#/properties/data/..."); a nested `$id` would make a
    validator resolve them against the sub-schema and fail. Only the root keeps its `$id`."""
    if isinstance(node, dict):
        return {k: _without_nested_ids(v, False) for k, v in node.items() if root or k != "$id"}
    if isinstance(node, list):
        return [_without_nested_ids(item, False) for item in node]
    return node


def _validator() -> jsonschema.Draft7Validator:
    text = resources.files(SCHEMA_PACKAGE).joinpath("ConnectorMetadataDefinitionV0.json")
    schema = _without_nested_ids(json.loads(text.read_text()))
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


VALIDATOR = _validator()


def test_metadata_is_valid_against_airbytes_schema():
    problems = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(METADATA)]

    assert problems == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("releases", "breakingChanges"), {}),  # what 0.2.0 shipped
        (("dockerImageTag",), 100),
        (("connectorType",), "sink"),
    ],
)
def test_the_schema_check_refuses_what_airbyte_refuses(path, value):
    broken = copy.deepcopy(METADATA)
    parent = broken["data"]
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value

    assert list(VALIDATOR.iter_errors(broken))
