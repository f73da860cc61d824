"""The files a verb is given (`--config`, `--catalog`, `--state`), read with errors to act on.

The CDK's readers end in a Python traceback when a file is missing or is not JSON, and take a
state only as a JSON list of state objects. People run the connector by hand with the STATE
lines `read` printed, or with a list of whole STATE messages: both are accepted here, the
last state of each stream winning as Airbyte keeps it. Anything else is refused as a
`config_error` that names the file and shows the expected form. The config's content is never
echoed (it holds the key).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    FailureType,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

STATE_FORM = (
    'a JSON list of states, [{"type": "STREAM", "stream": {"stream_descriptor": {"name": '
    '"chat_completions"}, "stream_state": {...}}}], or the STATE lines `read` printed'
)


def read_config(path: str) -> dict[str, Any]:
    config = _read_json(path, "--config")
    if not isinstance(config, dict):
        raise _refused(f"The --config file {path} must hold a JSON object.")
    return config


def read_catalog(path: str) -> ConfiguredAirbyteCatalog:
    catalog = _read_json(path, "--catalog")
    try:
        return ConfiguredAirbyteCatalogSerializer.load(catalog)
    except Exception as error:  # serpyco raises its own validation errors
        raise _refused(
            f"The --catalog file {path} is not a configured catalog ({error})."
        ) from None


def read_state(path: str) -> list[AirbyteStateMessage]:
    """Every stream's latest state from a state file in any form Airbyte or `read` writes."""
    text = _read_text(path, "--state")
    try:
        items = _as_list(json.loads(text)) if text.strip() else []
    except json.JSONDecodeError:
        items = _json_lines(text, path)
    latest: dict[Any, Mapping[str, Any]] = {}
    for item in items:
        state = _state_of(item, path)
        latest[_stream_key(state)] = state
    try:
        return [AirbyteStateMessageSerializer.load(state) for state in latest.values()]
    except Exception as error:
        raise _refused(f"The --state file {path} holds a state that is not valid ({error}); "
                       f"expected {STATE_FORM}.") from None  # fmt: skip


def _read_text(path: str, flag: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except FileNotFoundError:
        raise _refused(f"The {flag} file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _refused(f"The {flag} file {path} cannot be read: {error}.") from None


def _read_json(path: str, flag: str) -> Any:
    try:
        return json.loads(_read_text(path, flag))
    except json.JSONDecodeError as error:
        # The position only: the content may be a secret.
        raise _refused(
            f"The {flag} file {path} is not valid JSON (line {error.lineno}, column "
            f"{error.colno}: {error.msg})."
        ) from None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json_lines(text: str, path: str) -> list[Any]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError:
            raise _refused(
                f"The --state file {path} is neither JSON nor JSON lines (line {number}); "
                f"expected {STATE_FORM}."
            ) from None
    return items


def _state_of(item: Any, path: str) -> Mapping[str, Any]:
    """A state object, from itself or from a whole STATE message; other messages refused."""
    if isinstance(item, Mapping) and item.get("type") == "STATE" and "state" in item:
        item = item["state"]
    if isinstance(item, Mapping) and item.get("type") in ("STREAM", "GLOBAL", "LEGACY"):
        return item
    if isinstance(item, Mapping) and isinstance(item.get("stream"), Mapping):
        return item
    raise _refused(f"The --state file {path} holds something that is not a state; expected "
                   f"{STATE_FORM}.")  # fmt: skip


def _stream_key(state: Mapping[str, Any]) -> Any:
    stream = state.get("stream")
    if isinstance(stream, Mapping):
        descriptor = stream.get("stream_descriptor") or {}
        return ("stream", descriptor.get("namespace"), descriptor.get("name"))
    return (state.get("type"),)


def _refused(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )
