"""The connector: spec, check, discover and read over two concurrent streams.

A Python source on airbyte-cdk's public concurrent engine (`ConcurrentSource.create`), which it
owns: its bounded record queue, its message repository and its state manager. The streams are
`DefaultStream`s with the connector's own partitions and cursor (streams/).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
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
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.utils.slice_logger import DebugSliceLogger
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.stream_status_utils import as_airbyte_message as stream_status_message
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat import inputs
from source_openai_chat.api.answers import Reading, RetriesExhausted
from source_openai_chat.api.client import ApiClient, Retries
from source_openai_chat.api.endpoint import (
    Project,
    admin_endpoint,
    list_endpoint,
    messages_endpoint,
    projects,
)
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
from source_openai_chat.streams.organization import (
    COST,
    PROJECTS,
    USAGE,
    build_buckets_stream,
    build_projects_stream,
    costs_params,
    usage_params,
)
from source_openai_chat.streams.partitions import PrintedStates, ProjectRead

# Enough queued records to keep stdout busy (ten list pages), few enough that a slow destination
# does not pile up the CDK's default 10,000 in memory.
QUEUED_RECORDS = 1_000
LOGGER = logging.getLogger("airbyte")


@dataclass
class _Sync:
    """What the streams of one verb share: the engine's repository, the state, a limiter per key."""

    config: OpenAIChatConfig
    message_repository: MessageRepository
    state_manager: ConnectorStateManager
    printed_states: PrintedStates
    catalog: ConfiguredAirbyteCatalog | None = None  # None: a check or a discover
    limiters: dict[str, SharedRateLimiter] = field(default_factory=dict)

    def limiter(self, api_key: str) -> SharedRateLimiter:
        """One limiter per key, shared by every request made with it: OpenAI limits a key's
        organization and project, whichever streams and workers send."""
        if api_key not in self.limiters:
            self.limiters[api_key] = SharedRateLimiter(
                max_rate=self.config.max_requests_per_second,
                stall_seconds=self.config.max_retry_seconds,
            )
        return self.limiters[api_key]

    def stop(self, error: BaseException) -> None:
        """The sync fails: wake every request waiting on a limiter."""
        for limiter in list(self.limiters.values()):
            limiter.stop(error)


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
        """One page of one completion of every project, and with an admin key one page of
        the organization's projects: a wrong key or an unreachable base_url fails in seconds,
        with one retry, naming the project or the admin key."""
        try:
            parsed = parse_config(dict(config))
        except InvalidConfig as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        checked = parsed.model_copy(update={"page_size": 1, "max_retries": 1})
        streams = {stream.name: stream for stream in self._streams(self._sync(checked, None, []))}
        seen: set[str | None] = set()
        for partition in streams[STREAM_NAME].generate_partitions():
            project = (partition.to_slice() or {}).get("project_id")
            if project in seen:
                continue  # one model of each project is enough
            seen.add(project)
            failure = _first_record_fails(partition, parsed)
            if failure:
                return _failed(f"Project {project}: {failure}" if project else failure)
        if PROJECTS in streams:
            partition = next(iter(streams[PROJECTS].generate_partitions()))
            failure = _first_record_fails(partition, parsed)
            if failure:
                return _failed(failure)
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
        # The CDK masks the spec's secrets in every line it prints, but not those inside an
        # array's items: the projects' own keys are added here.
        for project in config.projects or []:
            if project.api_key:
                add_to_secrets(project.api_key)
        return _Sync(
            config=config,
            message_repository=self.message_repository or InMemoryMessageRepository(),
            state_manager=ConnectorStateManager(state),
            printed_states=PrintedStates(),
            catalog=catalog,
        )

    def _streams(self, sync: _Sync) -> list[DefaultStream]:
        config = sync.config
        retries = Retries(config.max_retries, config.max_retry_seconds)
        # A connection for each chain of each model partition that may read at once.
        chains = 2 * len(config.models or [None])
        several = bool(config.projects)

        def list_read(project: Project) -> ProjectRead:
            # Each chain of pages has one request in flight at a time.
            client = ApiClient(
                list_endpoint(config, project),
                Reading.LIST,
                retries,
                sync.limiter(project.api_key),
                chains,
                paced_start=False,
            )
            state_key = project.project_id if several else None
            return ProjectRead(project.project_id, state_key, client)

        def messages_fetcher(project: Project) -> MessagesFetcher:
            client = ApiClient(
                messages_endpoint(config, project),
                Reading.MESSAGES,
                retries,
                sync.limiter(project.api_key),
                config.num_workers,
            )
            return MessagesFetcher(client, config.page_size)

        streams = [
            build_completions_stream(
                [list_read(project) for project in projects(config)],
                self._feed_state(sync, STREAM_NAME),
                config.models,
                # Two chains a page ahead only pay in `read`; `check` wants one request.
                read_settings(config, check=sync.catalog is None),
                sync.message_repository,
                sync.state_manager,
            ),
            build_messages_stream(
                [(list_read(project), messages_fetcher(project)) for project in projects(config)],
                sync.stop,
                config.num_workers,
                self._feed_state(sync, MESSAGES_STREAM),
                config.models,
                read_settings(config),
                sync.message_repository,
                sync.state_manager,
                sync.printed_states,
            ),
        ]
        if config.admin_api_key:
            streams += self._organization_streams(sync, retries)
        return streams

    @staticmethod
    def _organization_streams(sync: _Sync, retries: Retries) -> list[DefaultStream]:
        """With an admin key: the organization's projects, usage and costs."""
        config = sync.config
        limiter = sync.limiter(config.admin_api_key or "")

        def client(path: str, params: Mapping[str, Any]) -> ApiClient:
            endpoint = admin_endpoint(config, path, params)
            return ApiClient(endpoint, Reading.ORGANIZATION, retries, limiter)

        start = read_settings(config).start
        return [
            build_projects_stream(client("projects", {}), sync.message_repository),
            *(
                build_buckets_stream(
                    buckets,
                    client(buckets.path, params),
                    sync.state_manager.get_stream_state(buckets.stream, None),
                    config.usage_lookback_days,
                    start,
                    sync.message_repository,
                    sync.state_manager,
                )
                for buckets, params in (
                    (USAGE, usage_params(config.usage_bucket_width)),
                    (COST, costs_params()),
                )
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


def _first_record_fails(partition: Partition, config: OpenAIChatConfig) -> str | None:
    """Why reading the partition's first record failed, or None."""
    try:
        next(iter(partition.read()), None)
    except RetriesExhausted as error:
        if not error.unreachable:
            return str(error)
        return (
            f"Could not reach the API at base_url {redact_url(config.base_url)}: the connection "
            "failed or timed out. Check base_url and that this network can reach it."
        )
    except AirbyteTracedException as error:
        return str(error)
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
