"""Interrupted, faulty and odd syncs of `chat_completions`, against the emulator.

A sync that dies is the installed CLI, killed; every other run is in-process
(harness.run_in_process).

Every interrupted sync is rerun with the last state it printed, as the platform does, and the
union of what both runs delivered is compared with the emulator's completions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from integration_tests.emulator import Emulator, Fault, make_completion, make_messages
from integration_tests.harness import (
    FORK_SERVER,
    STREAM,
    ConnectorRun,
    assert_finished,
    configured_catalog,
    run_in_process,
    run_until_killed,
)

PAGE = 50  # 450 completions: 9 pages
MESSAGES = "chat_completion_messages"
INCREMENTAL = configured_catalog({STREAM: "incremental"})
FULL_REFRESH = configured_catalog({STREAM: "full_refresh"})


def ids(records: list[dict[str, Any]]) -> set[str]:
    return {record["id"] for record in records}


def stream_state(run: ConnectorRun) -> dict[str, Any]:
    return run.last_state[0]["stream"]["stream_state"]


def warnings(run: ConnectorRun) -> list[str]:
    return [m["log"]["message"] for m in run.of_type("LOG") if m["log"]["level"] == "WARN"]


def newest_first_placed(states: int) -> Callable[[dict[str, Any]], bool]:
    """A `kill_at`: the `states`-th STATE or a later one whose checkpoint has a place for the
    newest-first chain."""
    seen = 0

    def accept(state: dict[str, Any]) -> bool:
        nonlocal seen
        seen += 1
        checkpoint = state["stream"]["stream_state"].get("checkpoint") or {}
        return seen >= states and bool(checkpoint.get("after"))

    return accept


@pytest.fixture
def paged(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "page_size": PAGE, "lookback_window_minutes": 0}


class TestResume:
    @FORK_SERVER
    @pytest.mark.parametrize(
        ("catalog", "emulator"),
        [(INCREMENTAL, {}), (FULL_REFRESH, {"shuffle_ties": True})],  # each tie order once
        ids=["incremental", "full-ties-shuffled"],
        indirect=["emulator"],
    )
    def test_first_sync_killed_after_page_3_resumes_after_it(self, emulator, paged, catalog):
        killed = run_until_killed(paged, catalog=catalog, kill_after_states=3)
        checkpoint = stream_state(killed)["checkpoint"]
        emulator.clear_requests()

        resumed = run_in_process("read", paged, catalog=catalog, state=killed.last_state)

        assert resumed.exit_code == 0
        assert ids(killed.records) | ids(resumed.records) == ids(emulator.completions())
        # Each chain goes on after its own place.
        first_after = {}
        for request in emulator.list_requests():
            first_after.setdefault(request.param("order"), request.param("after"))
        assert first_after["desc"] == checkpoint.get("after")
        assert first_after.get("asc") == (checkpoint.get("ascending") or {}).get("after")
        # At most one page again per chain.
        assert len(ids(killed.records) & ids(resumed.records)) <= 2 * PAGE
        newest = max(r["created"] for r in emulator.completions())
        assert_finished(stream_state(resumed), emulator.completions(), newest)

    @FORK_SERVER
    def test_later_sync_killed_mid_way_resumes_and_keeps_the_old_floor(self, emulator, paged):
        first = run_in_process("read", paged, catalog=INCREMENTAL)
        newest = max(r["created"] for r in emulator.completions())
        rng = random.Random(5)
        added = [make_completion(rng, newest + offset) for offset in range(1, 301)]
        for record in added:
            emulator.add(record)

        killed = run_until_killed(
            paged, catalog=INCREMENTAL, state=first.last_state, kill_after_states=2
        )
        assert stream_state(killed)["created"] == str(newest)  # the floor until it is reached
        resumed = run_in_process("read", paged, catalog=INCREMENTAL, state=killed.last_state)

        assert resumed.exit_code == 0
        assert ids(added) <= ids(killed.records) | ids(resumed.records)
        assert len(ids(killed.records) & ids(resumed.records)) <= 2 * PAGE
        assert min(r["created"] for r in resumed.records) >= newest  # stopped at the old floor
        assert_finished(stream_state(resumed), emulator.completions(), newest + 300)

    @FORK_SERVER
    def test_per_model_reads_resume_each_after_its_own_checkpoint(self, emulator, paged):
        models = ["gpt-4o-2024-08-06", "o3-mini-2025-01-31"]
        config = {**paged, "models": models, "page_size": 20}
        wanted = {r["id"] for r in emulator.completions() if r["model"] in models}

        killed = run_until_killed(config, catalog=INCREMENTAL, kill_after_states=4)
        resumed = run_in_process("read", config, catalog=INCREMENTAL, state=killed.last_state)

        assert set(stream_state(killed)["models"]) <= set(models)
        assert resumed.exit_code == 0
        assert ids(killed.records) | ids(resumed.records) == wanted
        assert len(ids(killed.records) & ids(resumed.records)) <= 20 * len(models)
        final = stream_state(resumed)["models"]
        assert all("checkpoint" not in final[model] for model in models)

    def test_sync_failing_after_its_retries_resumes_from_its_last_state(self, emulator, paged):
        emulator.inject(Fault("status", status=503, skip=3, times=-1))

        failed = run_in_process("read", {**paged, "max_retries": 1}, catalog=INCREMENTAL)
        emulator.faults.clear()
        resumed = run_in_process("read", paged, catalog=INCREMENTAL, state=failed.last_state)

        assert failed.exit_code != 0
        assert [e["failure_type"] for e in failed.errors] == ["transient_error"] * len(
            failed.errors
        )
        assert "checkpoint" in stream_state(failed)
        assert ids(failed.records) | ids(resumed.records) == ids(emulator.completions())
        assert len(ids(failed.records) & ids(resumed.records)) <= PAGE

    def test_state_of_a_newer_version_is_refused_as_config_error(self, paged):
        v9 = [
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": STREAM},
                    "stream_state": {"state_version": 9, "created": "1"},
                },
            }
        ]

        run = run_in_process("read", paged, catalog=INCREMENTAL, state=v9)

        assert run.exit_code != 0
        assert run.errors[0]["failure_type"] == "config_error"
        assert "version 9" in run.errors[0]["message"]
        assert not run.records


class TestVanishedCursor:
    def test_after_id_deleted_mid_sync_is_recovered_without_loss(self, emulator, paged):
        before = ids(emulator.completions())
        emulator.inject(Fault("delete_after", skip=1))  # the 3rd page's `after` id vanishes

        run = run_in_process("read", paged, catalog=FULL_REFRESH)

        assert run.exit_code == 0
        assert ids(run.records) == before  # the deleted one was delivered before it vanished
        assert len(run.records) - len(ids(run.records)) <= PAGE  # a bounded re-read
        assert sum("no longer exists" in w for w in warnings(run)) == 1


class TestFaults:
    @pytest.mark.parametrize(
        "fault",
        [
            Fault("status", status=429, headers={"retry-after": "1"}, skip=1),
            Fault("status", status=429, retry_after_date_in=2, skip=1),  # an HTTP date
        ],
        ids=["seconds", "http-date"],
    )
    def test_429_waits_for_retry_after_then_succeeds(self, emulator, paged, fault):
        emulator.inject(fault)

        run = run_in_process("read", paged, catalog=FULL_REFRESH)

        assert run.exit_code == 0
        assert ids(run.records) == ids(emulator.completions())
        # The refused request is the one sent twice (no other chain request repeats).
        sent: dict[tuple[str | None, str | None], list[float]] = {}
        for request in emulator.list_requests():
            sent.setdefault((request.param("order"), request.param("after")), []).append(
                request.arrived
            )
        [(refused, retried)] = [times for times in sent.values() if len(times) == 2]
        assert retried - refused >= 1.0  # waited as told, not a speed claim

    def test_a_refused_connection_is_retried_with_one_plain_line_per_attempt(self, config):
        refused = {**config, "base_url": "http://127.0.0.1:9/v1", "max_retries": 1}

        run = run_in_process("read", refused, catalog=FULL_REFRESH)

        retries = [line for line in run.logs if line.startswith("Retrying")]
        assert set(retries) == {
            "Retrying in 1.0 s (attempt 1 of 1): the connection failed "
            "([Errno 111] Connection refused)"
        }
        assert len(retries) <= 2  # one per chain of requests
        assert not [line for line in run.logs if "rate limit" in line.lower()]
        assert run.errors[-1]["failure_type"] == "transient_error"
        assert "kept failing after every retry (the connection failed" in run.errors[-1]["message"]

    @pytest.mark.parametrize("kind", ["not_json", "truncated", "html"])
    def test_a_page_that_stays_broken_ends_with_transient_error_and_resumes(
        self, emulator, paged, kind
    ):
        emulator.inject(Fault(kind, status=502, skip=2, times=-1))

        failed = run_in_process("read", {**paged, "max_retries": 1}, catalog=INCREMENTAL)
        emulator.faults.clear()
        resumed = run_in_process("read", paged, catalog=INCREMENTAL, state=failed.last_state)

        assert failed.exit_code != 0
        assert failed.errors[0]["failure_type"] == "transient_error"
        assert ids(failed.records) | ids(resumed.records) == ids(emulator.completions())

    def test_total_retry_time_is_capped_by_max_retry_seconds(self, emulator, paged):
        emulator.inject(Fault("status", status=503, times=-1))
        config = {**paged, "max_retries": 20, "max_retry_seconds": 1}

        run = run_in_process("read", config, catalog=FULL_REFRESH)

        assert run.exit_code != 0
        assert run.errors[0]["failure_type"] == "transient_error"
        # Two requests a chain at most (at 0 s, after the 1 s backoff), not the 21 of max_retries.
        assert len(emulator.list_requests()) <= 2 * 2


class TestOddRecords:
    def test_records_without_integer_created_are_delivered_with_one_warning(self, emulator, paged):
        newest = max(r["created"] for r in emulator.completions())
        rng = random.Random(3)
        odd = []
        for value in (None, "yesterday", 1.5e9):
            record = make_completion(rng, newest + 10)
            record["created"] = value
            odd.append(record)
            emulator.add(record, listed_at=newest + 10)
        missing = make_completion(rng, newest - 100)
        del missing["created"]
        odd.append(missing)
        emulator.add(missing, listed_at=newest - 100)

        run = run_in_process("read", paged, catalog=INCREMENTAL)

        assert run.exit_code == 0
        assert ids(odd) <= ids(run.records)
        assert sum("without an integer `created`" in w for w in warnings(run)) == 1
        assert stream_state(run)["created"] == str(newest)  # odd records never move it

    def test_negative_zero_and_huge_created_and_an_object_tool_choice_stay_in_their_schema(
        self, config
    ):
        # What Prism's generated data and lenient compatible servers send: `created` from -60
        # to 57 (the description allows any integer) and one of 2**62, and `tool_choice` in
        # the request's object form.
        rng = random.Random(5)
        expected = []
        with Emulator() as emulator:
            for created in [*range(-60, 58, 3), 2**62]:
                record = make_completion(rng, created)
                if created % 2:
                    record["tool_choice"] = {"type": "function", "function": {"name": "lookup"}}
                emulator.add(record, make_messages(rng, record["id"], 2))
                expected.append(record)
            odd = {**config, "base_url": emulator.base_url, "page_size": 7}
            catalog = configured_catalog({STREAM: "incremental", MESSAGES: "incremental"})
            schemas = {
                stream["name"]: jsonschema.Draft7Validator(stream["json_schema"])
                for stream in run_in_process("discover", odd).catalog["streams"]
            }

            first = run_in_process("read", odd, catalog=catalog)
            again = run_in_process("read", odd, catalog=catalog, state=first.last_state)

        for run in (first, again):
            assert run.exit_code == 0, run.errors
            for message in run.of_type("RECORD"):
                schemas[message["record"]["stream"]].validate(message["record"]["data"])
        assert ids(first.records_of(STREAM)) == ids(expected)
        assert {m["completion_id"] for m in first.records_of(MESSAGES)} == ids(expected)
        objects = [r for r in first.records_of(STREAM) if r["created"] % 2]
        assert objects
        assert all(
            json.loads(r["tool_choice"]) == {"type": "function", "function": {"name": "lookup"}}
            for r in objects
        )
