"""The connector: the declarative manifest shipped in this package, behind a config check."""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Iterator, Mapping, MutableMapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
    Type,
)
from airbyte_cdk.sources.declarative.concurrent_declarative_source import (
    ConcurrentDeclarativeSource,
)
from airbyte_cdk.sources.declarative.requesters import HttpRequester
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from airbyte_cdk.utils.yaml_loader import safe_load_yaml

from source_openai_chat import cdk_seam, inputs
from source_openai_chat.api.client import ApiClient
from source_openai_chat.api.rate_limiter import SharedRateLimiter
from source_openai_chat.config import (
    DATE_FORMAT,
    InvalidConfig,
    OpenAIChatConfig,
    parse_config,
    redact_url,
    with_defaults,
)
from source_openai_chat.errors import (
    closing_summary,
    explain_check_failure,
)
from source_openai_chat.feed.opening import ReadSettings
from source_openai_chat.feed.state import FeedState, UnreadableState
from source_openai_chat.streams.completions import STREAM_NAME, build_completions_stream
from source_openai_chat.streams.messages import MESSAGES_STREAM, build_messages_stream
from source_openai_chat.streams.messages_fetch import MessagesFetcher
from source_openai_chat.streams.partitions import PrintedStates

QUEUED_RECORDS = 1_000


@functools.cache
def _manifest() -> dict[str, Any]:
    """manifest.yaml of this package, parsed once per process. The CDK's YamlDeclarativeSource
    opens "manifest.yaml" in the working directory first (a stray file there would be read
    instead) and parses it again for every source built."""
    text = resources.files(__package__).joinpath("manifest.yaml").read_text(encoding="utf-8")
    return safe_load_yaml(text)  # type: ignore[no-any-return]


class SourceOpenaiChat(ConcurrentDeclarativeSource):
    """The package's `manifest.yaml`; config, catalog and state must be given here, at
    construction.

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
            # The CDK resolves the manifest in place: each source gets its own copy.
            source_config=copy.deepcopy(_manifest()),
            # The manifest reads the config with every default applied (see config.py).
            config=with_defaults(config or {}),
            catalog=catalog or ConfiguredAirbyteCatalog(streams=[]),
            state=state or [],
            config_path=config_path,
        )
        # Enough queued records to keep stdout busy (ten list pages), few enough that a slow
        # destination does not pile up the CDK's 10,000 in memory (see cdk_seam.record_queue).
        cdk_seam.record_queue(self).maxsize = QUEUED_RECORDS
        self._configured_catalog = catalog
        self._limiter: SharedRateLimiter | None = None
        self._printed_states = PrintedStates()

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        return inputs.read_config(config_path)

    @classmethod
    def read_catalog(cls, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return inputs.read_catalog(catalog_path)

    @classmethod
    def read_state(cls, state_path: str) -> list[AirbyteStateMessage]:
        return inputs.read_state(state_path) if state_path else []

    def streams(self, config: Mapping[str, Any]) -> list[AbstractStream]:  # type: ignore[override]
        """The manifest's streams, each replaced by the source's own reader (the manifest only
        declares them: see `ReadBySource` in components.py)."""
        builders = {STREAM_NAME: self._completions, MESSAGES_STREAM: self._messages}
        return [
            builders[stream.name](stream)
            if stream.name in builders and isinstance(stream, DefaultStream)
            else stream
            for stream in super().streams(config)
        ]

    def _completions(self, declarative: DefaultStream) -> DefaultStream:
        parsed = self._parsed_config()
        return build_completions_stream(
            declarative,
            self._list_client(STREAM_NAME, parsed),
            self._feed_state(STREAM_NAME),
            parsed.models,
            # Two chains a page ahead only pay in `read`; `check` wants one request.
            read_settings(parsed, background=self._configured_catalog is not None),
            cdk_seam.message_repository(self),
            cdk_seam.state_manager(self),
        )

    def _messages(self, declarative: DefaultStream) -> DefaultStream:
        parsed = self._parsed_config()
        messages_client = self._client(
            "messages_requester", MESSAGES_STREAM, connections=parsed.num_workers
        )
        return build_messages_stream(
            declarative,
            self._list_client(MESSAGES_STREAM, parsed),
            MessagesFetcher(messages_client, parsed.page_size),
            self._rate_limiter(),
            parsed.num_workers,
            self._feed_state(MESSAGES_STREAM),
            parsed.models,
            read_settings(parsed),
            cdk_seam.message_repository(self),
            cdk_seam.state_manager(self),
            self._printed_states,
        )

    def _parsed_config(self) -> OpenAIChatConfig:
        """The typed config the streams are built with (see cdk_seam.source_config)."""
        return parse_config(dict(cdk_seam.source_config(self)))

    def _list_client(self, stream_name: str, parsed: OpenAIChatConfig) -> ApiClient:
        """A connection for each chain of each model partition that may read at once."""
        chains = 2 * len(parsed.models or [None])
        return self._client("list_requester", stream_name, connections=chains)

    def _client(self, definition: str, stream_name: str, connections: int = 1) -> ApiClient:
        return ApiClient(
            self._requester(definition, stream_name), self._rate_limiter(), connections
        )

    def _requester(self, definition: str, stream_name: str) -> HttpRequester:
        """One of the manifest's requesters, built by the CDK from `definitions`."""
        return cdk_seam.build_requester(
            self, self.resolved_manifest["definitions"][definition], stream_name
        )

    def _rate_limiter(self) -> SharedRateLimiter:
        """One limiter for every request of this sync, both streams and every worker."""
        if self._limiter is None:
            parsed = self._parsed_config()
            self._limiter = SharedRateLimiter(
                max_rate=parsed.max_requests_per_second, stall_seconds=parsed.max_retry_seconds
            )
        return self._limiter

    def _feed_state(self, stream_name: str) -> FeedState:
        try:
            state = FeedState.from_json(
                cdk_seam.state_manager(self).get_stream_state(stream_name, None)
            )
        except UnreadableState as error:
            message = f"{stream_name}: {error}"
            raise AirbyteTracedException(
                message=message, internal_message=message, failure_type=FailureType.config_error
            ) from None
        if self._sync_mode(stream_name) == SyncMode.full_refresh:
            return state.without_floors()
        return state

    def _sync_mode(self, stream_name: str) -> SyncMode | None:
        for configured in self._configured_catalog.streams if self._configured_catalog else []:
            if configured.stream.name == stream_name:
                return configured.sync_mode
        return None

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            parsed = parse_config(cdk_seam.source_config(self) or config)
        except InvalidConfig as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        status = super().check(logger, config)
        if status.status == Status.FAILED:
            status.message = explain_check_failure(
                status.message or "", redact_url(parsed.base_url)
            )
        return status

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        validate_config(cdk_seam.source_config(self) or config)
        return super().discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        validate_config(cdk_seam.source_config(self) or config)
        stream_errors: list[AirbyteErrorTraceMessage] = []
        try:
            for message in super().read(logger, config, catalog, state):
                if message.type == Type.TRACE and message.trace.error:
                    stream_errors.append(message.trace.error)
                yield message
                if message.type == Type.STATE:  # printed by now (see PrintedStates)
                    self._printed_states.printed(message)
        except AirbyteTracedException as error:
            raise closing_summary(error, stream_errors) from error.__cause__


def read_settings(config: OpenAIChatConfig, background: bool = True) -> ReadSettings:
    start = (
        int(datetime.strptime(config.start_date, DATE_FORMAT).replace(tzinfo=UTC).timestamp())
        if config.start_date
        else None
    )
    return ReadSettings(
        page_size=config.page_size,
        lookback_seconds=config.lookback_window_minutes * 60,
        start=start,
        background=background,
    )


def validate_config(config: Mapping[str, Any]) -> None:
    """Refuse a bad config as Airbyte expects: a traced `config_error` naming the field."""
    try:
        parse_config(dict(config))
    except InvalidConfig as error:
        raise AirbyteTracedException(
            message=str(error), internal_message=str(error), failure_type=FailureType.config_error
        ) from None
