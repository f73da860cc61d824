"""`chat_completions`: paging, filters, headers, state, lookback and errors, against HttpMocker."""

from __future__ import annotations

from typing import Any

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.mock_http import HttpMocker

from source_openai_chat import SourceOpenaiChat
from unit_tests.builders import (
    API_KEY,
    ConfigBuilder,
    catalog,
    completion,
    error,
    list_request,
    page,
    state,
    template,
)

DAY = 86_400
NEWEST = 1_767_225_600  # 2026-01-01T00:00:00Z


def _read(
    config: dict[str, Any], sync_mode: SyncMode = SyncMode.incremental, stream_state=None, **kw
) -> EntrypointOutput:
    configured = catalog(sync_mode)
    source = SourceOpenaiChat()
    return read(source, config, configured, stream_state, **kw)


def _ids(output: EntrypointOutput) -> list[str]:
    return [r.record.data["id"] for r in output.records]


def _last_cursor(output: EntrypointOutput) -> str:
    return output.state_messages[-1].state.stream.stream_state.created


class TestFullRefresh:
    @HttpMocker()
    def test_given_two_pages_when_read_then_follow_after_and_return_all_records(self, http_mocker):
        http_mocker.get(
            list_request(),
            page([completion("c3", NEWEST), completion("c2", NEWEST - 5)], has_more=True),
        )
        http_mocker.get(list_request(after="c2"), page([completion("c1", NEWEST - 9)]))

        output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

        assert _ids(output) == ["c3", "c2", "c1"]
        assert not output.errors

    @HttpMocker()
    def test_given_full_refresh_when_read_then_emit_state_at_newest_created(self, http_mocker):
        http_mocker.get(
            list_request(), page([completion("c2", NEWEST), completion("c1", NEWEST - 60)])
        )

        output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

        assert _last_cursor(output) == str(NEWEST)

    @HttpMocker()
    def test_given_page_size_when_read_then_send_it_as_limit(self, http_mocker):
        http_mocker.get(list_request(limit=7), page([completion("c1", NEWEST)]))

        output = _read(ConfigBuilder().with_(page_size=7).build(), SyncMode.full_refresh)

        assert _ids(output) == ["c1"]

    @HttpMocker()
    def test_given_envelope_without_last_id_when_read_then_page_after_last_item(self, http_mocker):
        http_mocker.get(
            list_request(),
            page(
                [completion("c2", NEWEST), completion("c1", NEWEST - 1)],
                has_more=True,
                last_id=None,
            ),
        )
        http_mocker.get(list_request(after="c1"), page([completion("c0", NEWEST - 2)]))

        output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

        assert _ids(output) == ["c2", "c1", "c0"]

    @HttpMocker()
    def test_given_record_when_read_then_emit_it_as_returned(self, http_mocker):
        record = completion(
            "c1", NEWEST, seed=-(2**63), service_tier="brand-new-tier", new_field={"x": [1]}
        )
        http_mocker.get(list_request(), page([record]))

        output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

        emitted = output.records[0].record.data
        # The CDK's own entrypoint (used in-process here) drops top-level nulls; the console
        # script keeps them (test_run.py). Every other value is untouched.
        assert emitted == {k: v for k, v in record.items() if v is not None}


class TestRequests:
    @HttpMocker()
    def test_given_org_and_project_when_read_then_send_auth_and_headers(self, http_mocker):
        headers = {
            "Authorization": f"Bearer {API_KEY}",
            "OpenAI-Organization": "org-123",
            "OpenAI-Project": "proj_456",
        }
        http_mocker.get(list_request(headers=headers), page([completion("c1", NEWEST)]))

        config = ConfigBuilder().with_(organization_id="org-123", project_id="proj_456").build()
        output = _read(config, SyncMode.full_refresh)

        assert _ids(output) == ["c1"]

    @HttpMocker()
    def test_given_metadata_filter_when_read_then_send_bracket_params_on_every_page(
        self, http_mocker
    ):
        filters = {"metadata[team]": "search", "metadata[feature]": "résumé"}
        http_mocker.get(list_request(**filters), page([completion("c2", NEWEST)], has_more=True))
        http_mocker.get(list_request(after="c2", **filters), page([completion("c1", NEWEST - 1)]))

        config = (
            ConfigBuilder()
            .with_(
                metadata_filter=[
                    {"key": "team", "value": "search"},
                    {"key": "feature", "value": "résumé"},
                ]
            )
            .build()
        )
        output = _read(config, SyncMode.full_refresh)

        assert _ids(output) == ["c2", "c1"]

    @HttpMocker()
    def test_given_models_when_read_then_each_model_is_a_partition_with_its_own_cursor(
        self, http_mocker
    ):
        http_mocker.get(
            list_request(model="gpt-4o"), page([completion("a1", NEWEST, model="gpt-4o")])
        )
        http_mocker.get(
            list_request(model="o3-mini"), page([completion("b1", NEWEST - DAY, model="o3-mini")])
        )

        output = _read(ConfigBuilder().with_(models=["gpt-4o", "o3-mini"]).build())

        assert sorted(_ids(output)) == ["a1", "b1"]
        final = output.state_messages[-1].state.stream.stream_state.__dict__
        cursors = {model: position["created"] for model, position in final["models"].items()}
        assert cursors == {"gpt-4o": str(NEWEST), "o3-mini": str(NEWEST - DAY)}


class TestIncremental:
    @HttpMocker()
    def test_given_state_when_read_then_stop_paging_at_first_page_older_than_state(
        self, http_mocker
    ):
        old_state = NEWEST - DAY
        first_page = list_request()
        http_mocker.get(
            first_page,
            page([completion("new", NEWEST), completion("old", old_state - 7200)], has_more=True),
        )

        output = _read(
            ConfigBuilder().with_(lookback_window_minutes=0).build(), stream_state=state(old_state)
        )

        assert _ids(output) == ["new"]
        http_mocker.assert_number_of_calls(first_page, 1)
        assert _last_cursor(output) == str(NEWEST)

    @HttpMocker()
    def test_given_same_second_records_when_read_then_records_at_state_second_are_emitted_again(
        self, http_mocker
    ):
        http_mocker.get(
            list_request(),
            page(
                [
                    completion("tie-new", NEWEST),
                    completion("tie-old", NEWEST),
                    completion("older", NEWEST - 1),
                ]
            ),
        )

        output = _read(
            ConfigBuilder().with_(lookback_window_minutes=0).build(), stream_state=state(NEWEST)
        )

        assert _ids(output) == ["tie-new", "tie-old"]

    @HttpMocker()
    def test_given_lookback_when_read_then_late_arrival_older_than_state_is_emitted(
        self, http_mocker
    ):
        late = completion(
            "late", NEWEST - 1800
        )  # finished after the last sync, created 30 min before it
        http_mocker.get(
            list_request(),
            page([completion("new", NEWEST + 60), late, completion("old", NEWEST - 7200)]),
        )

        output = _read(
            ConfigBuilder().with_(lookback_window_minutes=60).build(), stream_state=state(NEWEST)
        )

        assert _ids(output) == ["new", "late"]
        assert _last_cursor(output) == str(NEWEST + 60)

    @HttpMocker()
    def test_given_start_date_when_read_then_older_records_are_not_emitted(self, http_mocker):
        start = NEWEST - DAY
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

        config = ConfigBuilder().with_(start_date="2025-12-31T00:00:00Z").build()
        output = _read(config, SyncMode.full_refresh)

        assert _ids(output) == ["in", "edge"]


class TestErrors:
    @HttpMocker()
    def test_given_401_when_read_then_config_error_with_openai_message(self, http_mocker):
        http_mocker.get(list_request(), error("error_401", 401))

        output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

        first = output.errors[0].trace.error
        assert first.failure_type == FailureType.config_error
        assert "Incorrect API key provided" in first.message
        # The sync closes with what that error said, not the engine's list of exceptions.
        closing = output.errors[-1].trace.error
        assert (closing.message, closing.failure_type) == (first.message, first.failure_type)
        assert "did not sync successfully" in closing.internal_message

    @HttpMocker()
    def test_given_400_or_404_without_after_when_read_then_config_error_with_openai_message(
        self, http_mocker
    ):
        for name, status in (("error_400", 400), ("error_404", 404)):
            http_mocker.clear_all_matchers()
            http_mocker.get(list_request(), error(name, status))

            output = _read(ConfigBuilder().build(), SyncMode.full_refresh)

            error_trace = output.errors[0].trace.error
            assert error_trace.failure_type == FailureType.config_error
            assert template(name)["error"]["message"] in error_trace.message
            assert "check base_url" in error_trace.message
