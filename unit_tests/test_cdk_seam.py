"""Contract tests for every airbyte-cdk internal the connector uses (cdk_seam.py).

Each fails on the CDK upgrade that changes what the connector relies on.
"""

from __future__ import annotations

import copy
import logging
import warnings

import pytest
from airbyte_cdk.models import Status, SyncMode
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative import concurrent_declarative_source as declarative
from airbyte_cdk.sources.declarative.requesters import HttpRequester
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat import SourceOpenaiChat, cdk_seam
from source_openai_chat.source import QUEUED_RECORDS
from unit_tests.builders import ConfigBuilder, catalog, completion, error, list_request, page

LOGGER = logging.getLogger("test")


def test_the_source_keeps_its_config_message_repository_and_state_manager():
    config = ConfigBuilder().with_(page_size=7).build()
    source = SourceOpenaiChat(config=config)

    assert cdk_seam.source_config(source)["page_size"] == 7
    assert hasattr(cdk_seam.message_repository(source), "emit_message")
    assert isinstance(cdk_seam.state_manager(source), ConnectorStateManager)


def test_the_record_queue_is_the_one_the_concurrent_read_consumes_and_it_is_capped():
    source = SourceOpenaiChat(config=ConfigBuilder().build())

    queue = cdk_seam.record_queue(source)

    assert queue is source._concurrent_source._queue
    assert queue.maxsize == QUEUED_RECORDS < 10_000


def test_a_requester_is_built_from_the_manifest_with_its_error_handler():
    source = SourceOpenaiChat(config=ConfigBuilder().build())
    definition = source.resolved_manifest["definitions"]["list_requester"]

    requester = cdk_seam.build_requester(source, definition, "chat_completions")

    assert isinstance(requester, HttpRequester)
    assert requester.error_handler is not None
    assert requester.get_request_params() == {"order": "desc"}


def test_a_traced_exception_keeps_its_cause():
    cause = ValueError("cause")

    assert cdk_seam.exception_of(AirbyteTracedException(exception=cause)) is cause


@HttpMocker()
def test_check_reads_through_the_sources_streams_and_words_failures_as_matched(http_mocker):
    # The manifest's streams have a retriever that refuses to read (ReadBySource): a check that
    # succeeds went through SourceOpenaiChat.streams(), with check's config_overrides applied.
    http_mocker.get(list_request(limit=1), page([completion("c1", 1767225600)]))
    config = ConfigBuilder().build()

    assert SourceOpenaiChat(config=config).check(LOGGER, config).status == Status.SUCCEEDED


@HttpMocker()
def test_a_failed_check_is_worded_as_the_seam_expects(http_mocker):
    http_mocker.get(list_request(limit=1), error("error_401", 401))
    config = ConfigBuilder().build()

    status = SourceOpenaiChat(config=config).check(LOGGER, config)

    # CHECK_UNAVAILABLE matched and was stripped: the message starts with the reason itself.
    assert status.message.startswith("The API rejected the API key (HTTP 401)")


@HttpMocker()
def test_a_failed_sync_closes_with_the_summary_the_seam_matches(http_mocker):
    http_mocker.get(list_request(), error("error_401", 401))
    config = ConfigBuilder().build()
    configured = catalog(SyncMode.full_refresh)
    source = SourceOpenaiChat(config=config, catalog=configured)

    with pytest.raises(AirbyteTracedException) as closing:
        list(source.read(LOGGER, config, configured, None))

    # closing_summary recognised the CDK's summary by CONCURRENT_SUMMARY and rewrote it.
    assert cdk_seam.CONCURRENT_SUMMARY in closing.value.internal_message
    assert closing.value.message.startswith("The API rejected the API key (HTTP 401)")


def test_building_the_source_streams_and_requesters_raises_no_deprecation_warning():
    """The manifest uses no field the CDK deprecates (url_base/path were), and nothing else
    the connector calls is deprecated: an upgrade that removes them would not break it."""
    config = ConfigBuilder().build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = SourceOpenaiChat(config=config, catalog=catalog())
        source.streams(config)
        for name in ("list_requester", "messages_requester"):
            definition = source.resolved_manifest["definitions"][name]
            cdk_seam.build_requester(source, definition, "chat_completions")

    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []


@HttpMocker()
def test_a_source_reads_the_component_schema_the_suite_parses_once_and_leaves_it_intact(
    http_mocker,
):
    """Not the connector's seam but the suite's (conftest.py): every source gets one parsed
    component schema. It must still come from that function, and reading must not change it."""
    parsed = declarative.get_declarative_component_schema()
    pristine = copy.deepcopy(parsed)
    http_mocker.get(list_request(), page([completion("c1", 1767225600)]))
    config = ConfigBuilder().build()
    configured = catalog(SyncMode.full_refresh)
    source = SourceOpenaiChat(config=config, catalog=configured)

    records = [m for m in source.read(LOGGER, config, configured, None) if m.record]

    assert len(records) == 1
    assert source._declarative_component_schema is parsed
    assert parsed == pristine
