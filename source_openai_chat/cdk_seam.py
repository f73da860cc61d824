"""Every use of airbyte-cdk internals, in one place (airbyte-cdk 7.39.1).

The rest of the connector reaches the CDK through its public API only. Each item says why no
public hook serves and what breaks if the CDK changes it; unit_tests/test_cdk_seam.py fails on
the upgrade that changes any of them, so a CDK upgrade is a review of this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from queue import Queue
from typing import Any

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    ConcurrentDeclarativeSource,
)
from airbyte_cdk.sources.declarative.models import HttpRequester as HttpRequesterModel
from airbyte_cdk.sources.declarative.requesters import HttpRequester
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

# How the CDK's CheckStream words a stream that fails: "Stream <name> is not available: <reason>"
# (in quotes). errors.explain_check_failure strips it to show the reason alone; if the CDK
# rewords it, the whole CDK text is shown.
CHECK_UNAVAILABLE = re.compile(r"^Stream \w+ is not available: ")

# The message the concurrent source gives the exception that closes a failed sync (it then
# lists the streams' errors and always calls it a config_error). errors.closing_summary matches
# it to say the first stream error instead. If the CDK rewords it, the CDK's summary is shown.
CONCURRENT_SUMMARY = "Concurrent read failure"


def source_config(source: ConcurrentDeclarativeSource) -> Mapping[str, Any]:
    """`_config`: the config the declarative source interpolates with. It is the one given at
    construction, overlaid with `check`'s `config_overrides` while a check runs; the config
    passed to `streams(config)` is not. Without it the streams would read with the wrong
    page size and retries during `check`."""
    return source._config  # type: ignore[no-any-return]


def message_repository(source: ConcurrentDeclarativeSource) -> MessageRepository:
    """`_message_repository`: the queue the concurrent engine drains on its main thread. The
    checkpointing cursors emit STATE through it so a state never overtakes the records it
    covers; the source exposes no public accessor for it."""
    return source._message_repository  # type: ignore[no-any-return]


def record_queue(source: ConcurrentDeclarativeSource) -> Queue[Any]:
    """`_message_repository._queue`: the queue through which worker threads hand every record
    to the main thread, created inside the source's constructor with a fixed `maxsize` of
    10,000 items. When stdout is read slowly (a slow destination) it fills to that cap, which
    sets the peak memory (bench/results: RSS under a slow destination); `SourceOpenaiChat`
    lowers its `maxsize`, which `Queue.put` reads on every call. If the CDK stops sharing the
    queue this way, the contract test fails (and memory under backpressure is back to the CDK's
    cap, nothing else)."""
    return source._message_repository._queue  # type: ignore[attr-defined,no-any-return]


def state_manager(source: ConcurrentDeclarativeSource) -> ConnectorStateManager:
    """`_connector_state_manager`: the incoming per-stream state and the builder of STATE
    messages, which the CDK hands only to its own cursors."""
    return source._connector_state_manager  # type: ignore[no-any-return]


def build_requester(
    source: ConcurrentDeclarativeSource, definition: Mapping[str, Any], name: str
) -> HttpRequester:
    """`_constructor.create_component`: builds one of the manifest's requesters exactly as the
    CDK builds its own (auth, error handler, backoff, interpolation), for the connector's own
    request path. There is no public factory on the source."""
    requester = source._constructor.create_component(
        HttpRequesterModel, definition, source_config(source), name=name
    )
    if not isinstance(requester, HttpRequester):
        raise TypeError(f"the manifest's {name} definition did not build an HttpRequester")
    return requester


def exception_of(error: AirbyteTracedException) -> BaseException | None:
    """`_exception`: the original exception inside a traced one, kept when errors.py rewrites
    the closing summary so the stack trace still points at the cause."""
    return error._exception  # type: ignore[no-any-return]
