"""The connector: the declarative manifest shipped in this package, behind a config check."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.declarative.models import HttpRequester as HttpRequesterModel
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.completions_stream import (
    STREAM_NAME,
    ReadSettings,
    build_completions_stream,
)
from source_openai_chat.config import DATE_FORMAT, InvalidConfig, OpenAIChatConfig, parse_config
from source_openai_chat.errors import (
    explain_check_failure,
    retries_exhausted_as_transient,
    with_stream_failure_type,
)
from source_openai_chat.feed_state import FeedState, UnreadableState


class SourceOpenaiChat(YamlDeclarativeSource):
    """Reads `manifest.yaml`; config, catalog and state must be given here, at construction.

    `check`, `discover` and `read` first validate the config (see config.py), so a bad value is
    refused with a message naming the field and `failure_type: config_error`.
    """

    def __init__(
        self,
        config: Mapping[str, Any] | None = None,
        catalog: ConfiguredAirbyteCatalog | None = None,
        state: list[AirbyteStateMessage] | None = None,
        config_path: str | None = None,
    ) -> None:
        super().__init__(
            path_to_yaml="manifest.yaml",
            config=config,
            catalog=catalog,
            state=state,
            config_path=config_path,
        )
        self._configured_catalog = catalog

    def streams(self, config: Mapping[str, Any]) -> list[AbstractStream]:  # type: ignore[override]
        """The manifest's streams, with `chat_completions` reading through the checkpointing
        reader (completions_stream.py) instead of the CDK's paginator and cursor."""
        streams = super().streams(config)
        return [
            self._checkpointed(stream)
            if stream.name == STREAM_NAME and isinstance(stream, DefaultStream)
            else stream
            for stream in streams
        ]

    def _checkpointed(self, declarative: DefaultStream) -> DefaultStream:
        parsed = parse_config(dict(self._config))
        requester = self._constructor.create_component(
            HttpRequesterModel,
            self.resolved_manifest["definitions"]["list_requester"],
            self._config,
            name=STREAM_NAME,
        )
        return build_completions_stream(
            declarative,
            requester,
            self._feed_state(),
            parsed.models,
            # Prefetching the next page only pays in `read`; `check` wants one request.
            read_settings(parsed, prefetch=self._configured_catalog is not None),
            self._message_repository,
            self._connector_state_manager,
        )

    def _feed_state(self) -> FeedState:
        try:
            state = FeedState.from_json(
                self._connector_state_manager.get_stream_state(STREAM_NAME, None)
            )
        except UnreadableState as error:
            message = str(error)
            raise AirbyteTracedException(
                message=message, internal_message=message, failure_type=FailureType.config_error
            ) from None
        if self._sync_mode(STREAM_NAME) == SyncMode.full_refresh:
            return state.without_floors()
        return state

    def _sync_mode(self, stream_name: str) -> SyncMode | None:
        for configured in self._configured_catalog.streams if self._configured_catalog else []:
            if configured.stream.name == stream_name:
                return configured.sync_mode
        return None

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            parsed = parse_config(self._config or config)
        except InvalidConfig as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        status = super().check(logger, config)
        if status.status == Status.FAILED:
            status.message = explain_check_failure(status.message or "", parsed.base_url)
        return status

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        validate_config(self._config or config)
        return super().discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        validate_config(self._config or config)
        failure_types: list[FailureType] = []
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type == Type.TRACE and message.trace.error:
                    retries_exhausted_as_transient(message.trace.error)
                    failure_types.append(message.trace.error.failure_type)
                yield message
        except AirbyteTracedException as error:
            raise with_stream_failure_type(error, failure_types) from error.__cause__


def read_settings(config: OpenAIChatConfig, prefetch: bool = True) -> ReadSettings:
    start = (
        int(datetime.strptime(config.start_date, DATE_FORMAT).replace(tzinfo=UTC).timestamp())
        if config.start_date
        else None
    )
    return ReadSettings(
        page_size=config.page_size,
        lookback_seconds=config.lookback_window_minutes * 60,
        start=start,
        prefetch=prefetch,
    )


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a bad config as Airbyte expects: a traced `config_error` naming the field."""
    try:
        parse_config(dict(config))
    except InvalidConfig as error:
        raise AirbyteTracedException(
            message=str(error), internal_message=str(error), failure_type=FailureType.config_error
        ) from None
