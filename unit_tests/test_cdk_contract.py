"""What the connector relies on in airbyte-cdk's public API beyond its signatures.

The connector reaches no CDK internal; these tests fail on the CDK upgrade that changes a
behaviour it builds on.
"""

from __future__ import annotations

import logging
import warnings

from airbyte_cdk.models import SyncMode, Type
from airbyte_cdk.test.mock_http import HttpMocker

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.streams.partitions import PrintedStates
from unit_tests.builders import ConfigBuilder, catalog, completion, list_request, page

LOGGER = logging.getLogger("test")


@HttpMocker()
def test_the_engine_yields_the_very_state_message_a_cursor_emitted(http_mocker, monkeypatch):
    """PrintedStates tells a partition its checkpoint was printed by the identity of the
    STATE message: the engine must hand on the object it was given, not a copy."""
    emitted = []
    track = PrintedStates.track
    monkeypatch.setattr(
        PrintedStates,
        "track",
        lambda self, message: emitted.append(message) or track(self, message),
    )
    http_mocker.get(list_request(), page([completion("c1", 1767225600)]))
    config = ConfigBuilder().build()

    messages = list(SourceOpenaiChat().read(LOGGER, config, catalog(SyncMode.full_refresh)))

    states = [message for message in messages if message.type == Type.STATE]
    assert states
    assert all(any(state is sent for sent in emitted) for state in states)


@HttpMocker()
def test_building_and_reading_the_streams_raises_no_deprecation_warning(http_mocker):
    """Nothing the connector calls is deprecated: an upgrade that removes it would not break
    the connector unannounced."""
    http_mocker.get(list_request(), page([completion("c1", 1767225600)]))
    config = ConfigBuilder().build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(SourceOpenaiChat().read(LOGGER, config, catalog(SyncMode.full_refresh)))

    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
