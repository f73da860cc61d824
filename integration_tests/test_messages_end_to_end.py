"""`chat_completion_messages` against the emulator (in-process: harness.run_in_process)."""

from __future__ import annotations

import random
from typing import Any

from integration_tests.emulator import (
    TEST_API_KEY,
    Emulator,
    Fault,
    generate,
    make_completion,
    make_messages,
)
from integration_tests.harness import STREAM, configured_catalog, run_in_process

MESSAGES = "chat_completion_messages"


def expected_messages(emulator: Emulator) -> list[dict[str, Any]]:
    created = {c["id"]: c["created"] for c in emulator.completions()}
    return [
        {
            **message,  # nulls included
            "completion_id": completion_id,
            "completion_created": created[completion_id],
            "project_id": None,  # a connection without `projects` or `project_id`
        }
        for completion_id, messages in emulator.store.messages.items()
        for message in messages
    ]


def keys(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((r["completion_id"], r["id"]) for r in records)


def test_messages_equal_the_emulators_for_empty_single_and_multi_page_completions(emulator, config):
    counts = [len(m) for m in emulator.store.messages.values()]
    # The emulator's data covers every case: no messages, one page, several pages.
    assert 0 in counts
    assert any(0 < count <= 100 for count in counts)
    assert max(counts) > 100

    run = run_in_process("read", config, catalog=configured_catalog({MESSAGES: "full_refresh"}))

    assert run.exit_code == 0
    by_key = lambda r: (r["completion_id"], r["id"])  # noqa: E731
    assert sorted(run.records_of(MESSAGES), key=by_key) == sorted(
        expected_messages(emulator), key=by_key
    )


def test_both_streams_sync_together_with_their_own_states(emulator, config):
    catalog = configured_catalog({STREAM: "incremental", MESSAGES: "incremental"})

    run = run_in_process("read", config, catalog=catalog)

    assert run.exit_code == 0
    assert len(run.records_of(STREAM)) == len(emulator.completions())
    assert keys(run.records_of(MESSAGES)) == keys(expected_messages(emulator))
    assert {s["stream"]["stream_descriptor"]["name"] for s in run.last_state} == {STREAM, MESSAGES}


def test_incremental_messages_alone_fetch_only_completions_new_since_last_sync(emulator, config):
    no_lookback = {**config, "lookback_window_minutes": 0}
    catalog = configured_catalog({MESSAGES: "incremental"})
    first = run_in_process("read", no_lookback, catalog=catalog)
    newest = max(c["created"] for c in emulator.completions())
    rng = random.Random(5)
    new = [make_completion(rng, newest + offset) for offset in (30, 60, 90)]
    for completion in new:
        emulator.add(completion, make_messages(rng, completion["id"], 3))
    emulator.clear_requests()

    second = run_in_process("read", no_lookback, catalog=catalog, state=first.last_state)

    asked = {r.path.split("/")[4] for r in emulator.requests if r.path.endswith("/messages")}
    # The completions of the saved second are listed again but their messages, delivered by
    # the first sync, are not requested again.
    assert asked == {c["id"] for c in new}
    assert {c["id"] for c in new} <= {r["completion_id"] for r in second.records_of(MESSAGES)}
    # The list, once: upward after the anchor, and newest first down to the floor.
    assert len(emulator.list_requests()) <= 2


def test_completion_deleted_before_its_messages_are_read_is_skipped(emulator, config):
    victim = next(cid for cid, messages in emulator.store.messages.items() if messages)
    emulator.inject(
        Fault("status", status=404, path=f"/v1/chat/completions/{victim}/messages", times=-1,
              message=f"No chat completion found with id '{victim}'.")
    )  # fmt: skip

    run = run_in_process("read", config, catalog=configured_catalog({MESSAGES: "full_refresh"}))

    assert run.exit_code == 0
    expected = [k for k in keys(expected_messages(emulator)) if k[0] != victim]
    assert keys(run.records_of(MESSAGES)) == expected
    assert any("no longer exists" in line and victim in line for line in run.logs)


def test_rate_limits_on_messages_slow_down_instead_of_failing():
    # 60 completions: enough to be paced after the 429s, few enough to finish soon at that pace.
    with Emulator(generate(60), api_keys=[TEST_API_KEY]) as emulator:
        emulator.inject(
            Fault("status", status=429, path="/v1/chat/completions/",
                  headers={"retry-after-ms": "20"}, skip=30, times=12)
        )  # fmt: skip
        config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url}

        run = run_in_process("read", config, catalog=configured_catalog({MESSAGES: "full_refresh"}))

    assert run.exit_code == 0
    assert keys(run.records_of(MESSAGES)) == keys(expected_messages(emulator))
    assert emulator.faults[0].times == 0  # all twelve 429s were served, waited out, retried
