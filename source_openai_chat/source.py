"""The connector: spec, check, discover and read over two concurrent streams.

A Python source on airbyte-cdk's public concurrent engine (`ConcurrentSource.create`), which it
owns: its bounded record queue, its message repository and its state manager. The streams are
`DefaultStream`s with the connector's own partitions and cursor (streams/).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Queue
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStreamStatus,
    ConfiguredAirbyteCatalog,
    ConnectorSpecification,
    FailureType,
    Status,
    SyncMode,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.sources.concurrent_source.concurrent_source import ConcurrentSource
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository, MessageRepository
from airbyte_cdk.sources.message.concurrent_repository import ConcurrentMessageRepository
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as stream_status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat import inputs
from source_openai_chat.api.answers import NotFound, RetriesExhausted
from source_openai_chat.api.client import ApiClient, Retries
from source_openai_chat.api.endpoint import list_endpoint, messages_endpoint
from source_openai_chat.api.rate_limiter import SharedRateLimiter
from source_openai_chat.config import (
    DATE_FORMAT,
    InvalidConfig,
    OpenAIChatConfig,
    parse_config,
    redact_url,
)
from source_openai_chat.feed.opening import ReadSettings
from source_openai_chat.feed.state import FeedState, UnreadableState
from source_openai_chat.spec import specification
from source_openai_chat.streams.completions import STREAM_NAME, build_completions_stream
from source_openai_chat.streams.messages import MESSAGES_STREAM, build_messages_stream
from source_openai_chat.streams.messages_fetch import MessagesFetcher
from source_openai_chat.streams.partitions import PrintedStates

# Enough queued records to keep stdout busy (ten list pages), few enough that a slow destination
# does not pile up the CDK's default 10,000 in memory.
QUEUED_RECORDS = 1_000
LOGGER = logging.getLogger("airbyte")


@dataclass
class _Sync:
    """What the streams of one verb share: the engine's repository, the state, one limiter."""

    config: OpenAIChatConfig
    message_repository: MessageRepository
    state_manager: ConnectorStateManager
    limiter: SharedRateLimiter
    printed_states: PrintedStates
    catalog: ConfiguredAirbyteCatalog | None = None  # None: a check or a discover


class SourceOpenaiChat(Source):
    """OpenAI's stored chat completions and their input messages.

    Every verb first validates the config (config.py), so a bad value is refused with a
    message naming the field and `failure_type: config_error`.
    """

    def __init__(self) -> None:
        self.message_repository: MessageRepository | None = None  # the entrypoint flushes it

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        return specification()

    def configure(self, config: Mapping[str, Any], temp_dir: str) -> Mapping[str, Any]:
        """The config every verb gets: each default applied and an optional field sent as
        null left out, as the CDK checks it against the spec, whose fields are not nullable.
        A config the model refuses is left as it is: the verb refuses it naming the field."""
        try:
            return parse_config(dict(config)).model_dump(mode="json", exclude_none=True)
        except InvalidConfig:
            return config

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        return inputs.read_config(config_path)

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return inputs.read_catalog(catalog_path)

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        return inputs.read_state(state_path) if state_path else []

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        """One page of one completion: a wrong key or an unreachable base_url fails in
        seconds, with one retry."""
        try:
            parsed = parse_config(dict(config))
        except InvalidConfig as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        checked = parsed.model_copy(update={"page_size": 1, "max_retries": 1})
        stream = self._streams(self._sync(checked, None, []))[0]
        try:
            partition = next(iter(stream.generate_partitions()))
            next(iter(partition.read()), None)
        except RetriesExhausted as error:
            if not error.unreachable:
                return _failed(str(error))
            return _failed(
                f"Could not reach the API at base_url {redact_url(parsed.base_url)}: the "
                "connection failed or timed out. Check base_url and that this network can "
                "reach it."
            )
        except AirbyteTracedException as error:
            return _failed(str(error))
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        streams = self._streams(self._sync(validated(config), None, []))
        return AirbyteCatalog(streams=[stream.as_airbyte_stream() for stream in streams])

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        parsed = validated(config)
        queue: Queue[Any] = Queue(maxsize=QUEUED_RECORDS)
        self.message_repository = ConcurrentMessageRepository(queue, InMemoryMessageRepository())
        sync = self._sync(parsed, catalog, state or [])
        engine = ConcurrentSource.create(
            num_workers=parsed.num_workers,
            # Below the worker count, as the engine requires, with one worker alone.
            initial_number_of_partitions_to_generate=max(parsed.num_workers // 2, 1),
            logger=logging.getLogger(f"airbyte.{self.name}"),
            slice_logger=DebugSliceLogger(),
            message_repository=self.message_repository,
            queue=queue,
        )
        stream_errors: list[AirbyteErrorTraceMessage] = []
        try:
            for message in engine.read(self._selected(self._streams(sync), catalog)):
                if message.type == Type.TRACE and message.trace.error:
                    stream_errors.append(message.trace.error)
                yield message
                if message.type == Type.STATE:  # printed by now (see PrintedStates)
                    sync.printed_states.printed(message)
        except AirbyteTracedException as error:
            if not stream_errors:
                raise
            raise _first_stream_error(error, stream_errors[0]) from error

    def _selected(
        self, streams: list[DefaultStream], catalog: ConfiguredAirbyteCatalog
    ) -> list[DefaultStream]:
        """The catalog's streams, in its order; one this source does not have is reported
        incomplete, as the CDK's sources do."""
        by_name = {stream.name: stream for stream in streams}
        selected = []
        for configured in catalog.streams:
            if configured.stream.name in by_name:
                selected.append(by_name[configured.stream.name])
            elif self.message_repository is not None:
                self.message_repository.emit_message(
                    stream_status_message(configured.stream, AirbyteStreamStatus.INCOMPLETE)
                )
        return selected

    def _sync(
        self,
        config: OpenAIChatConfig,
        catalog: ConfiguredAirbyteCatalog | None,
        state: list[AirbyteStateMessage],
    ) -> _Sync:
        return _Sync(
            config=config,
            message_repository=self.message_repository or InMemoryMessageRepository(),
            state_manager=ConnectorStateManager(state),
            # One limiter for every request of this sync, both streams and every worker.
            limiter=SharedRateLimiter(
                max_rate=config.max_requests_per_second, stall_seconds=config.max_retry_seconds
            ),
            printed_states=PrintedStates(),
            catalog=catalog,
        )

    def _streams(self, sync: _Sync) -> list[DefaultStream]:
        config = sync.config
        retries = Retries(config.max_retries, config.max_retry_seconds)
        # A connection for each chain of each model partition that may read at once.
        chains = 2 * len(config.models or [None])

        def list_client() -> ApiClient:
            return ApiClient(list_endpoint(config), NotFound.LIST, retries, sync.limiter, chains)

        messages_client = ApiClient(
            messages_endpoint(config),
            NotFound.MESSAGES,
            retries,
            sync.limiter,
            config.num_workers,
        )
        return [
            build_completions_stream(
                list_client(),
                self._feed_state(sync, STREAM_NAME),
                config.models,
                # Two chains a page ahead only pay in `read`; `check` wants one request.
                read_settings(config, check=sync.catalog is None),
                sync.message_repository,
                sync.state_manager,
            ),
            build_messages_stream(
                list_client(),
                MessagesFetcher(messages_client, config.page_size),
                sync.limiter,
                config.num_workers,
                self._feed_state(sync, MESSAGES_STREAM),
                config.models,
                read_settings(config),
                sync.message_repository,
                sync.state_manager,
                sync.printed_states,
            ),
        ]

    @staticmethod
    def _feed_state(sync: _Sync, stream_name: str) -> FeedState:
        try:
            state = FeedState.from_json(sync.state_manager.get_stream_state(stream_name, None))
        except UnreadableState as error:
            message = f"{stream_name}: {error}"
            raise AirbyteTracedException(
                message=message, internal_message=message, failure_type=FailureType.config_error
            ) from None
        if _sync_mode(sync.catalog, stream_name) == SyncMode.full_refresh:
            return state.without_floors()
        return state


def _sync_mode(catalog: ConfiguredAirbyteCatalog | None, stream_name: str) -> SyncMode | None:
    for configured in catalog.streams if catalog else []:
        if configured.stream.name == stream_name:
            return configured.sync_mode
    return None


def _failed(message: str) -> AirbyteConnectionStatus:
    return AirbyteConnectionStatus(status=Status.FAILED, message=message)


def _first_stream_error(
    error: AirbyteTracedException, first: AirbyteErrorTraceMessage
) -> AirbyteTracedException:
    """A failed sync closes with what its first stream error said (one sentence, ending with
    OpenAI's request id) and that error's failure type. The engine's own closing exception
    lists every stream's exception and always calls it a config_error; it is kept as the
    cause and in internal_message."""
    return AirbyteTracedException(
        message=first.message,
        internal_message=f"{error.message} {error.internal_message}".strip(),
        failure_type=first.failure_type,
    )


def read_settings(config: OpenAIChatConfig, check: bool = False) -> ReadSettings:
    start = (
        int(datetime.strptime(config.start_date, DATE_FORMAT).replace(tzinfo=UTC).timestamp())
        if config.start_date
        else None
    )
    return ReadSettings(
        page_size=config.page_size,
        lookback_seconds=config.lookback_window_minutes * 60,
        start=start,
        check=check,
    )


def validated(config: Mapping[str, Any]) -> OpenAIChatConfig:
    """The typed config, or a traced `config_error` naming the field, as Airbyte expects."""
    try:
        return parse_config(dict(config))
    except InvalidConfig as error:
        raise AirbyteTracedException(
            message=str(error), internal_message=str(error), failure_type=FailureType.config_error
        ) from None
