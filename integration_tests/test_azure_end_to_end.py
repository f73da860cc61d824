"""Both streams against the emulator in Azure OpenAI mode (in-process: harness.run_in_process)."""

from __future__ import annotations

import random

import pytest

from integration_tests.emulator import TEST_API_KEY, Emulator, generate, make_completion
from integration_tests.harness import STREAM, configured_catalog, run_in_process

MESSAGES = "chat_completion_messages"
BOTH = {STREAM: "incremental", MESSAGES: "incremental"}


@pytest.fixture
def azure():
    with Emulator(generate(260), azure=True) as running:
        yield running


def _config(base_url: str, **provider) -> dict:
    return {
        "api_key": TEST_API_KEY,
        "base_url": base_url,
        "api_provider": {"provider": "azure", **provider},
    }


def _message_keys(emulator: Emulator) -> set[tuple[str, str]]:
    return {(cid, m["id"]) for cid, messages in emulator.store.messages.items() for m in messages}


def test_full_refresh_of_both_streams_equals_the_azure_data(azure):
    run = run_in_process(
        "read",
        _config(azure.base_url),
        catalog=configured_catalog({STREAM: "full_refresh", MESSAGES: "full_refresh"}),
    )

    assert run.exit_code == 0
    expected = sorted(
        ({**r, "project_id": None} for r in azure.completions()), key=lambda r: r["id"]
    )
    assert sorted(run.records_of(STREAM), key=lambda r: r["id"]) == expected
    assert {(r["completion_id"], r["id"]) for r in run.records_of(MESSAGES)} == _message_keys(azure)
    # Azure's nulls came through as nulls.
    assert all(c["finish_reason"] is None for r in run.records_of(STREAM) for c in r["choices"])
    assert all(k not in azure.requests[0].headers for k in ("authorization",))
    assert azure.requests[0].headers["api-key"] == TEST_API_KEY


def test_incremental_reads_only_new_completions_and_their_messages(azure):
    config = {**_config(azure.base_url), "lookback_window_minutes": 0}
    first = run_in_process("read", config, catalog=configured_catalog(BOTH))
    newest = max(c["created"] for c in azure.completions())
    rng = random.Random(11)
    new = [make_completion(rng, newest + offset) for offset in (5, 50)]
    for completion in new:
        azure.add(completion)
    azure.clear_requests()

    second = run_in_process(
        "read", config, catalog=configured_catalog(BOTH), state=first.last_state
    )

    assert second.exit_code == 0
    assert {c["id"] for c in new} <= {r["id"] for r in second.records_of(STREAM)}
    assert len(second.records_of(STREAM)) < 10
    asked = {r.path.split("/")[5] for r in azure.requests if r.path.endswith("/messages")}
    assert {c["id"] for c in new} <= asked
    assert len(asked) < 10


def test_legacy_endpoint_with_api_version(azure):
    config = _config(azure.legacy_azure_url, api_version="2025-02-01-preview")

    check = run_in_process("check", config)
    run = run_in_process("read", config, catalog=configured_catalog({STREAM: "full_refresh"}))

    assert check.connection_status == {"status": "SUCCEEDED"}
    assert len(run.records) == len(azure.completions())
    assert all(dict(r.query).get("api-version") == "2025-02-01-preview" for r in azure.requests)


def test_legacy_endpoint_without_api_version_is_explained(azure):
    run = run_in_process("check", _config(azure.legacy_azure_url))

    assert run.connection_status["status"] == "FAILED"
    assert "Resource not found" in run.connection_status["message"]
    assert "base_url" in run.connection_status["message"]


def test_wrong_key_shows_azure_message(azure):
    run = run_in_process(
        "check", {**_config(azure.base_url), "api_key": "not-the-azure-key-000000"}
    )

    assert run.connection_status["status"] == "FAILED"
    assert "Access denied due to invalid subscription key" in run.connection_status["message"]
    assert "not-the-azure-key-000000" not in run.stdout + run.stderr
