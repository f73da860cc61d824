"""Builders for configs, list pages and requests, so tests state only what differs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from airbyte_cdk.models import ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.mock_http import HttpRequest, HttpResponse
from airbyte_cdk.test.state_builder import StateBuilder

API_KEY = "sk-test-unit-0000000000"
BASE_URL = "https://api.openai.com/v1"
LIST_URL = f"{BASE_URL}/chat/completions"
STREAM = "chat_completions"
RESPONSES = Path(__file__).parent / "resource" / "http" / "response"


def template(name: str) -> dict[str, Any]:
    return json.loads((RESPONSES / f"{name}.json").read_text())


# A start_date below every test record keeps a first read to the newest-first chain alone, which
# these tests describe request by request (an oldest-first chain from the oldest end would read
# below a start_date). The two-ended read has its own tests: test_meeting.py, test_two_ended.py
# and the end-to-end ones.
SINGLE_CHAIN_START = "2020-01-01T00:00:00Z"


class ConfigBuilder:
    def __init__(self) -> None:
        self._config: dict[str, Any] = {"api_key": API_KEY, "start_date": SINGLE_CHAIN_START}

    def with_(self, **values: Any) -> ConfigBuilder:
        self._config.update(values)
        return self

    def build(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)


def completion(
    completion_id: str, created: int, *, model: str = "gpt-4o-2024-08-06", **extra: Any
) -> dict[str, Any]:
    record = template("chat_completion")
    record.update(id=completion_id, created=created, model=model, **extra)
    return record


def page(records: list[dict[str, Any]], *, has_more: bool = False, **envelope: Any) -> HttpResponse:
    body: dict[str, Any] = {
        "object": "list",
        "data": records,
        "first_id": records[0]["id"] if records else None,
        "last_id": records[-1]["id"] if records else None,
        "has_more": has_more,
    }
    body.update(envelope)
    return HttpResponse(json.dumps(body), 200)


def error(name: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(json.dumps(template(name)), status, headers or {})


def list_request(
    *,
    after: str | None = None,
    limit: int = 100,
    headers: dict[str, str] | None = None,
    **params: str,
) -> HttpRequest:
    query: dict[str, str] = {"order": "desc", "limit": str(limit), **params}
    if after:
        query["after"] = after
    return HttpRequest(LIST_URL, query_params=query, headers=headers)


def messages_request(
    completion_id: str, *, after: str | None = None, limit: int = 100
) -> HttpRequest:
    query = {"order": "asc", "limit": str(limit)}
    if after:
        query["after"] = after
    return HttpRequest(f"{LIST_URL}/{completion_id}/messages", query_params=query)


def message(completion_id: str, index: int, role: str = "user", **extra: Any) -> dict[str, Any]:
    return {"id": f"{completion_id}-{index}", "role": role, "content": f"hello {index}", **extra}


def catalog(
    sync_mode: SyncMode = SyncMode.incremental, stream: str = STREAM
) -> ConfiguredAirbyteCatalog:
    return CatalogBuilder().with_stream(stream, sync_mode).build()


def state(created: int | str) -> list[Any]:
    return StateBuilder().with_stream_state(STREAM, {"created": str(created)}).build()


class FakeClock:
    """A monotonic clock that moves only when something sleeps on it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
