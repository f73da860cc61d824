"""`chat_completion_messages`: a substream of chat_completions, against HttpMocker."""

from __future__ import annotations

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.state_builder import StateBuilder

from source_openai_chat import SourceOpenaiChat
from unit_tests.builders import (
    ConfigBuilder,
    catalog,
    completion,
    error,
    list_request,
    message,
    messages_request,
    page,
)

MESSAGES = "chat_completion_messages"
NEWEST = 1_767_225_600


def _read(config, sync_mode=SyncMode.full_refresh, state=None) -> EntrypointOutput:
    configured = catalog(sync_mode, MESSAGES)
    source = SourceOpenaiChat()
    return read(source, config, configured, state)


def _keys(output: EntrypointOutput) -> list[tuple[str, str]]:
    return [(r.record.data["completion_id"], r.record.data["id"]) for r in output.records]


class TestMessages:
    @HttpMocker()
    def test_given_two_pages_of_messages_when_read_then_all_are_emitted_with_parent_fields(
        self, http_mocker
    ):
        http_mocker.get(list_request(), page([completion("c1", NEWEST)]))
        http_mocker.get(
            messages_request("c1"),
            page([message("c1", 0, "system"), message("c1", 1)], has_more=True),
        )
        http_mocker.get(
            messages_request("c1", after="c1-1"), page([message("c1", 2, "tool", name="t")])
        )

        output = _read(ConfigBuilder().build())

        assert _keys(output) == [("c1", "c1-0"), ("c1", "c1-1"), ("c1", "c1-2")]
        first = output.records[0].record.data
        assert first["completion_created"] == NEWEST
        assert first["role"] == "system"

    @HttpMocker()
    def test_given_completion_without_messages_when_read_then_nothing_for_it(self, http_mocker):
        http_mocker.get(
            list_request(), page([completion("c2", NEWEST), completion("c1", NEWEST - 1)])
        )
        http_mocker.get(messages_request("c2"), page([]))
        http_mocker.get(messages_request("c1"), page([message("c1", 0)]))

        output = _read(ConfigBuilder().build())

        assert _keys(output) == [("c1", "c1-0")]

    @HttpMocker()
    def test_given_deleted_completion_when_read_then_skip_it_and_go_on(self, http_mocker):
        http_mocker.get(
            list_request(), page([completion("gone", NEWEST), completion("c1", NEWEST - 1)])
        )
        http_mocker.get(messages_request("gone"), error("error_401", 404))
        http_mocker.get(messages_request("c1"), page([message("c1", 0)]))

        output = _read(ConfigBuilder().build())

        assert _keys(output) == [("c1", "c1-0")]
        assert not output.errors
        assert any("no longer exists" in log.log.message for log in output.logs)


class TestIncrementalMessages:
    @HttpMocker()
    def test_given_a_0_2_0_state_when_read_then_it_is_migrated_and_only_new_messages_requested(
        self, http_mocker
    ):
        saved = NEWEST - 3600
        state = (
            StateBuilder()
            .with_stream_state(
                MESSAGES,
                {
                    "use_global_cursor": True,
                    "state": {"completion_created": str(saved)},
                    "parent_state": {"chat_completions": {"created": str(saved)}},
                },
            )
            .build()
        )
        http_mocker.get(
            list_request(),
            page([completion("new", NEWEST), completion("old", saved - 60)], has_more=True),
        )
        http_mocker.get(messages_request("new"), page([message("new", 0)]))

        output = _read(
            ConfigBuilder().with_(lookback_window_minutes=0).build(), SyncMode.incremental, state
        )

        # No mock for "old": a request for its messages would fail the test.
        assert _keys(output) == [("new", "new-0")]
        final = output.state_messages[-1].state.stream.stream_state.__dict__
        assert final["state_version"] == 3
        assert final["created"] == str(NEWEST)
        assert final["anchor"] == "new"  # the next sync reads upward after it


class TestOneListForBothStreams:
    @HttpMocker()
    def test_given_a_saved_cursor_below_start_date_when_read_then_neither_stream_goes_below_it(
        self, http_mocker
    ):
        start = NEWEST - 3600  # start_date 2025-12-31T23:00:00Z, raised after the last sync
        saved = str(start - 7200)
        state = (
            StateBuilder()
            .with_stream_state("chat_completions", {"state_version": 2, "created": saved})
            .with_stream_state(MESSAGES, {"state_version": 2, "created": saved})
            .build()
        )
        http_mocker.get(
            list_request(),
            page(
                [
                    completion("in", start + 1),
                    completion("edge", start),
                    completion("out", start - 1),
                ]
            ),
        )
        for cid in ("in", "edge"):
            http_mocker.get(messages_request(cid), page([message(cid, 0)]))
        config = (
            ConfigBuilder()
            .with_(start_date="2025-12-31T23:00:00Z", lookback_window_minutes=0)
            .build()
        )
        configured = (
            CatalogBuilder()
            .with_stream("chat_completions", SyncMode.incremental)
            .with_stream(MESSAGES, SyncMode.incremental)
            .build()
        )

        source = SourceOpenaiChat()
        output = read(source, config, configured, state)

        # No mock for "out": a request for its messages would fail the test.
        by_stream = {
            stream: [r.record.data for r in output.records if r.record.stream == stream]
            for stream in ("chat_completions", MESSAGES)
        }
        assert [r["id"] for r in by_stream["chat_completions"]] == ["in", "edge"]
        assert [r["completion_id"] for r in by_stream[MESSAGES]] == ["in", "edge"]


class TestExtremeStartDates:
    @HttpMocker()
    def test_given_the_first_possible_start_date_when_read_then_everything_syncs(self, http_mocker):
        http_mocker.get(list_request(), page([completion("c1", NEWEST)]))
        http_mocker.get(messages_request("c1"), page([message("c1", 0)]))

        output = _read(ConfigBuilder().with_(start_date="0001-01-01T00:00:00Z").build())

        assert _keys(output) == [("c1", "c1-0")]
        assert not output.errors

    @HttpMocker()
    def test_given_the_last_possible_start_date_when_read_then_nothing_and_no_error(
        self, http_mocker
    ):
        # Below the start, but one record shows no order yet: the next page's older one does.
        http_mocker.get(list_request(), page([completion("c1", NEWEST)], has_more=True))
        http_mocker.get(
            list_request(after="c1"), page([completion("c0", NEWEST - 1)], has_more=True)
        )

        output = _read(ConfigBuilder().with_(start_date="9999-12-31T23:59:59Z").build())

        assert _keys(output) == []
        assert not output.errors
