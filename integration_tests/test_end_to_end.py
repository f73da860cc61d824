"""The connector against the local emulator: what comes out of the Airbyte protocol.

In-process (harness.run_in_process); the console script itself is proven in test_cli.py.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import jsonschema
import pytest

from integration_tests.emulator import (
    RESTRICTED_API_KEY,
    TEST_API_KEY,
    Emulator,
    Fault,
    generate,
    make_completion,
)
from integration_tests.harness import (
    CONNECTOR_ROOT,
    STREAM,
    TIE_ORDERS,
    assert_finished,
    configured_catalog,
    run_in_process,
    run_in_process_within,
)

MESSAGES = "chat_completion_messages"
INCREMENTAL = configured_catalog({STREAM: "incremental"})
FULL_REFRESH = configured_catalog({STREAM: "full_refresh"})


def ids(records: list[dict[str, Any]]) -> set[str]:
    return {record["id"] for record in records}


class TestSpecCheckDiscover:
    def test_spec_marks_the_key_secret(self):
        run = run_in_process("spec")

        spec = run.of_type("SPEC")[0]["spec"]["connectionSpecification"]
        assert run.exit_code == 0
        assert spec["properties"]["api_key"]["airbyte_secret"] is True

    def test_check_with_good_key_succeeds_with_one_request(self, emulator, config):
        run = run_in_process("check", config)

        assert run.connection_status == {"status": "SUCCEEDED"}
        assert len(emulator.list_requests()) == 1
        assert emulator.list_requests()[0].param("limit") == "1"

    @pytest.mark.parametrize(
        ("key", "openai_text"),
        [
            ("sk-wrong-0000000000000", "Incorrect API key provided"),
            (RESTRICTED_API_KEY, "lacks a permission: You have insufficient permissions"),
        ],
    )
    def test_check_with_rejected_key_reports_openai_message(self, config, key, openai_text):
        run = run_in_process("check", {**config, "api_key": key})

        assert run.exit_code == 0
        assert run.connection_status["status"] == "FAILED"
        assert openai_text in run.connection_status["message"]
        assert "(request id req_" in run.connection_status["message"]

    def test_check_with_unreachable_base_url_names_it(self, config):
        unreachable = "http://127.0.0.1:9/v1"  # discard port: nothing listens

        run = run_in_process("check", {**config, "base_url": unreachable})

        assert run.connection_status["status"] == "FAILED"
        assert f"base_url {unreachable}" in run.connection_status["message"]

    def test_discover_declares_id_key_created_cursor_and_both_modes(self, config):
        stream = run_in_process("discover", config).catalog["streams"][0]

        assert stream["name"] == STREAM
        assert stream["source_defined_primary_key"] == [["id"]]
        assert stream["default_cursor_field"] == ["created"]
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}


class TestRead:
    def test_full_refresh_equals_the_emulator_exactly(self, emulator, config):
        run = run_in_process("read", config, catalog=FULL_REFRESH)

        # Exactly as the API sent them, top-level nulls included, with the project they were
        # read from (none set: null).
        expected = sorted(
            ({**r, "project_id": None} for r in emulator.completions()), key=lambda r: r["id"]
        )
        assert any(value is None for record in expected for value in record.values())
        assert run.exit_code == 0
        assert sorted(run.records, key=lambda r: r["id"]) == expected
        assert len(run.records) == len(ids(run.records))  # no id twice in one sync
        newest = max(r["created"] for r in emulator.completions())
        assert_finished(run.last_state[0]["stream"]["stream_state"], expected, newest)
        # Both ends were read, and met in the middle.
        assert {q.param("order") for q in emulator.list_requests()} == {"desc", "asc"}
        assert len(emulator.list_requests()) <= 450 // 100 + 1 + 2

    def test_every_record_validates_against_the_discovered_schema(self, config):
        schema = run_in_process("discover", config).catalog["streams"][0]["json_schema"]

        run = run_in_process("read", config, catalog=FULL_REFRESH)

        validator = jsonschema.Draft7Validator(schema)  # checked once, not once a record
        for record in run.records:
            validator.validate(record)

    def test_incremental_with_nothing_new_and_no_lookback_costs_two_requests(
        self, emulator, config
    ):
        no_lookback = {**config, "lookback_window_minutes": 0}
        first = run_in_process("read", no_lookback, catalog=INCREMENTAL)
        emulator.clear_requests()

        second = run_in_process("read", no_lookback, catalog=INCREMENTAL, state=first.last_state)

        assert second.exit_code == 0
        # Upward after the anchor (nothing), and the page below it that ends the read.
        assert len(emulator.list_requests()) <= 2
        assert (
            second.last_state[0]["stream"]["stream_state"]
            == (first.last_state[0]["stream"]["stream_state"])
        )

    def test_incremental_with_nothing_new_rereads_only_the_lookback_window(self, emulator, config):
        first = run_in_process("read", config, catalog=INCREMENTAL)  # default lookback: 60 min
        newest = max(r["created"] for r in emulator.completions())
        in_window = [r for r in emulator.completions() if r["created"] >= newest - 3600]
        emulator.clear_requests()

        second = run_in_process("read", config, catalog=INCREMENTAL, state=first.last_state)

        anchor = first.last_state[0]["stream"]["stream_state"]["anchor"]
        assert ids(second.records) == ids(in_window) - {anchor}  # the anchor is not read again
        # Paging stops at the first page that reaches past the window (and one request finds
        # nothing above the anchor).
        assert len(emulator.list_requests()) <= len(in_window) // 100 + 2

    @TIE_ORDERS
    def test_incremental_loses_nothing_at_ties_or_for_late_arrivals(self, emulator, config):
        first = run_in_process("read", config, catalog=INCREMENTAL)
        newest = max(r["created"] for r in emulator.completions())
        rng = random.Random(42)
        tie = make_completion(rng, newest)  # same second as the saved state
        late = make_completion(rng, newest - 1800)  # listed only now, created 30 min earlier
        new = [make_completion(rng, newest + offset) for offset in (1, 1, 5, 90)]
        for record in (tie, late, *new):
            emulator.add(record)

        second = run_in_process("read", config, catalog=INCREMENTAL, state=first.last_state)

        assert second.exit_code == 0
        assert ids([tie, late, *new]) <= ids(second.records)
        assert ids(first.records) | ids(second.records) == ids(emulator.completions())
        assert second.last_state[0]["stream"]["stream_state"]["created"] == str(newest + 90)

    def test_incremental_requests_grow_with_new_data_not_history(self, emulator, config):
        first = run_in_process(
            "read", {**config, "lookback_window_minutes": 0}, catalog=INCREMENTAL
        )
        newest = max(r["created"] for r in emulator.completions())
        rng = random.Random(7)
        for offset in range(1, 151):
            emulator.add(make_completion(rng, newest + offset))
        emulator.clear_requests()

        second = run_in_process(
            "read",
            {**config, "lookback_window_minutes": 0},
            catalog=INCREMENTAL,
            state=first.last_state,
        )

        assert len(second.records) >= 150
        # 150 new records: a page from each end, and the page below the anchor; not 6 pages.
        assert len(emulator.list_requests()) <= 4

    def test_start_date_excludes_older_records(self, emulator, config):
        records = emulator.completions()
        cutoff = records[len(records) // 2]["created"]
        start_date = _iso(cutoff)

        run = run_in_process("read", {**config, "start_date": start_date}, catalog=FULL_REFRESH)

        assert ids(run.records) == {r["id"] for r in records if r["created"] >= cutoff}

    def test_models_and_metadata_filters_are_applied_by_the_server(self, emulator, config):
        models = ["gpt-4o-2024-08-06", "o3-mini-2025-01-31"]
        wanted = {"team": "search"}
        filtered = {
            **config,
            "models": models,
            "metadata_filter": [{"key": "team", "value": "search"}],
        }

        run = run_in_process("read", filtered, catalog=INCREMENTAL)

        expected = {
            r["id"]
            for r in emulator.completions()
            if r["model"] in models and r["metadata"].get("team") == wanted["team"]
        }
        assert ids(run.records) == expected
        sent_models = {q.param("model") for q in emulator.list_requests()}
        assert sent_models == set(models)
        assert all(q.param("metadata[team]") == "search" for q in emulator.list_requests())


class TestFaults:
    def test_rate_limit_and_server_errors_are_retried_without_loss(self, emulator, config):
        emulator.inject(Fault("status", status=429, headers={"retry-after-ms": "10"}, skip=1))
        emulator.inject(Fault("html", status=502, skip=2))
        emulator.inject(Fault("truncated", skip=3))
        emulator.inject(Fault("reset", skip=4))

        run = run_in_process("read", config, catalog=FULL_REFRESH)

        assert run.exit_code == 0
        assert ids(run.records) == ids(emulator.completions())
        assert len(run.records) == len(emulator.completions())

    def test_persistent_server_error_ends_with_transient_error(self, emulator, config):
        emulator.inject(Fault("status", status=500, headers={"retry-after-ms": "10"}, times=-1))

        run = run_in_process("read", {**config, "max_retries": 2}, catalog=FULL_REFRESH)

        assert run.exit_code != 0
        assert run.errors
        assert all(e["failure_type"] == "transient_error" for e in run.errors)
        attempts = Counter(q.param("order") for q in emulator.list_requests())
        assert max(attempts.values()) == 3  # a chain tried 1 + max_retries times, then failed
        assert all(count <= 3 for count in attempts.values())

    def test_a_page_that_does_not_advance_fails_clearly_instead_of_looping(self, emulator, config):
        emulator.inject(Fault("same_page", skip=1, times=-1))  # ignores `after` from page 2 on

        # Should the guard break, the test fails after 120 s instead of hanging.
        run = run_in_process_within(120, "read", config, catalog=FULL_REFRESH)

        assert run.exit_code != 0
        assert len(emulator.list_requests()) <= 4  # at most two pages from each end
        assert run.errors[0]["failure_type"] == "transient_error"
        assert "same page again" in run.errors[0]["message"]
        # The repeated page is recognised before it is delivered a second time.
        assert len(run.records) == len(ids(run.records)) <= 200


class TestBadInput:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"api_key": None}, "api_key"),
            ({"page_size": 0}, "page_size"),
            ({"page_size": 101}, "page_size"),
            ({"start_date": "2026/01/01"}, "start_date"),
            ({"base_url": "ftp://example.com/v1"}, "base_url"),
            ({"base_url": "http://api.example.com/v1"}, "base_url"),
            ({"metadata_filter": [{"key": "", "value": "x"}]}, "metadata_filter.0.key"),
        ],
    )
    def test_bad_config_is_refused_naming_the_field(self, config, change, field):
        bad = {k: v for k, v in {**config, **change}.items() if v is not None}

        check = run_in_process("check", bad)
        read = run_in_process("read", bad, catalog=FULL_REFRESH)

        assert check.connection_status["status"] == "FAILED"
        assert f"'{field}'" in check.connection_status["message"]
        assert read.exit_code != 0
        assert read.errors[0]["failure_type"] == "config_error"
        assert f"'{field}'" in read.errors[0]["message"]
        assert "Traceback" not in read.stderr
        assert not read.records

    @pytest.mark.parametrize("verb", ["check", "discover", "read"])
    def test_a_missing_config_file_is_a_config_error_trace_not_a_traceback(self, verb, tmp_path):
        missing = str(tmp_path / "config.json")

        catalog = ("--catalog", missing) if verb == "read" else ()

        run = run_in_process(verb, extra_args=("--config", missing, *catalog))

        assert run.exit_code == 1
        assert run.errors[0]["failure_type"] == "config_error"
        assert f"The --config file {missing} does not exist" in run.errors[0]["message"]
        assert "Traceback" not in run.stderr


class TestSecrets:
    @pytest.mark.parametrize("key", [TEST_API_KEY, "sk-wrong-key-must-not-leak-0000"])
    def test_key_never_appears_in_output_even_with_debug(self, config, key):
        for verb, catalog in (("check", None), ("discover", None), ("read", FULL_REFRESH)):
            run = run_in_process(
                verb, {**config, "api_key": key}, catalog=catalog, extra_args=("--debug",)
            )

            assert key not in run.stdout, verb
            assert key not in run.stderr, verb

    def test_key_never_appears_when_the_sync_fails(self, emulator, config):
        emulator.inject(Fault("status", status=500, times=-1, headers={"retry-after-ms": "1"}))

        run = run_in_process(
            "read", {**config, "max_retries": 1}, catalog=FULL_REFRESH, extra_args=("--debug",)
        )

        assert run.exit_code != 0
        assert TEST_API_KEY not in run.stdout + run.stderr


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_emulator_fixture_serves_the_dataset(emulator: Emulator):
    assert len(emulator.completions()) == 450


def test_the_emulator_can_list_same_second_completions_in_another_order():
    dataset = generate(450)
    by_arrival = Emulator(dataset).completions()
    shuffled = Emulator(dataset, shuffle_ties=True).completions()

    assert [r["created"] for r in shuffled] == [r["created"] for r in by_arrival]
    assert [r["id"] for r in shuffled] != [r["id"] for r in by_arrival]


class TestAirbyteFiles:
    """The configs, catalogs and states under integration_tests/, as Airbyte tooling uses them."""

    @staticmethod
    def _load(name: str, base_url: str | None = None) -> Any:
        content = json.loads((CONNECTOR_ROOT / "integration_tests" / name).read_text())
        return {**content, "base_url": base_url} if base_url else content

    def test_sample_config_checks_and_reads_with_both_catalogs(self, emulator):
        config = self._load("sample_config.json", emulator.base_url)

        check = run_in_process("check", config)
        full = run_in_process("read", config, catalog=self._load("configured_catalog.json"))
        incremental = run_in_process(
            "read", config, catalog=self._load("configured_catalog_incremental.json")
        )

        assert check.connection_status["status"] == "SUCCEEDED"
        for run in (full, incremental):
            assert ids(run.records_of(STREAM)) == ids(emulator.completions())
            messages = {(r["completion_id"], r["id"]) for r in run.records_of(MESSAGES)}
            assert messages == {
                (cid, m["id"]) for cid, ms in emulator.store.messages.items() for m in ms
            }

    def test_invalid_config_fails_check_with_openai_message(self, emulator):
        run = run_in_process("check", self._load("invalid_config.json", emulator.base_url))

        assert run.connection_status["status"] == "FAILED"
        assert "Incorrect API key provided" in run.connection_status["message"]

    def test_sample_state_reads_from_the_saved_cursor_minus_the_lookback(self, emulator):
        config = self._load("sample_config.json", emulator.base_url)
        state = self._load("sample_state.json")
        floor = int(state[0]["stream"]["stream_state"]["created"]) - 60 * 60

        run = run_in_process(
            "read", config, catalog=self._load("configured_catalog_incremental.json"), state=state
        )

        expected = {r["id"] for r in emulator.completions() if r["created"] >= floor}
        assert 0 < len(expected) < len(emulator.completions())
        assert ids(run.records_of(STREAM)) == expected
        assert {r["completion_id"] for r in run.records_of(MESSAGES)} <= expected

    def test_abnormal_future_state_reads_nothing_and_keeps_the_state(self, emulator):
        config = self._load("sample_config.json", emulator.base_url)
        state = self._load("abnormal_state.json")

        run = run_in_process(
            "read", config, catalog=self._load("configured_catalog_incremental.json"), state=state
        )

        assert run.exit_code == 0
        assert run.records == []
        saved = {
            s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in state
        }
        latest = {
            s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]
            for s in run.last_state
        }
        # Migrated from version 1, the saved cursor itself unchanged.
        assert latest[STREAM] == {"state_version": 3, **saved[STREAM]}
        messages_floor = saved["chat_completion_messages"]["parent_state"][STREAM]["created"]
        assert latest["chat_completion_messages"]["created"] == messages_floor
        assert len(emulator.requests) <= 2  # one list page per stream, no messages
