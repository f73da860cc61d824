"""The CDK's side of both streams: a partition per list position (all models, or one per
model), the cursor that holds a stream's `FeedState` and emits it at every checkpoint, and the
notice that a STATE message was printed.

`chat_completions` and `chat_completion_messages` each list the completions through
feed/opening.py's `list_read` and keep a `FeedState` through a `FeedCursor`. The CDK's own
cursor cannot do it: its state for a data feed is one value written when a partition ends.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.models import AirbyteMessage
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, CursorField
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import (
    PartitionGenerator,
)
from airbyte_cdk.sources.types import Record, StreamSlice
from airbyte_cdk.sources.utils.schema_helpers import ResourceSchemaLoader

from source_openai_chat.api.client import ApiClient
from source_openai_chat.feed.opening import ReadSettings, list_read
from source_openai_chat.feed.pages import list_page_fetcher
from source_openai_chat.feed.reader import order_ignored_warning
from source_openai_chat.feed.state import ALL_MODELS, FeedPosition, FeedState
from source_openai_chat.feed.two_ended import ListRead

LOGGER = logging.getLogger("airbyte")
PartitionKey = tuple[str | None, str]  # the project's state key, the model (or ALL_MODELS)


def stream_schema(stream_name: str) -> dict[str, Any]:
    """schemas/<stream>.json with its shared parts (schemas/shared/) resolved, as Airbyte's
    Python connectors load theirs; read once per process, a copy for each caller."""
    return copy.deepcopy(_resolved_schema(stream_name))


@functools.cache
def _resolved_schema(stream_name: str) -> dict[str, Any]:
    return ResourceSchemaLoader(__package__.split(".")[0]).get_schema(stream_name)


class PrintedStates:
    """Tells a partition when a STATE message it emitted has been printed.

    A checkpoint only protects what a killed sync repeats once the platform has it: the
    engine's queue and stdout's buffer can hold a state back while workers run on. The source
    reports each STATE message as it passes out of `read` (the console script flushes stdout
    after every STATE line); partitions wait for that before they count a checkpoint as saved.
    """

    def __init__(self) -> None:
        self._waiting: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def track(self, message: AirbyteMessage) -> threading.Event:
        printed = threading.Event()
        with self._lock:
            self._waiting[id(message)] = printed
        return printed

    def printed(self, message: AirbyteMessage) -> None:
        with self._lock:
            printed = self._waiting.pop(id(message), None)
        if printed:
            printed.set()


class CheckpointCursor(Cursor):
    """A cursor whose partitions save their own checkpoints: the engine's per-record and
    per-partition calls have nothing to do, and a stream that read nothing still emits its
    state once. Subclasses say what the state is (`_state_json`) and emit it (`_emit`, under
    `_lock`) through the stream's message repository, the engine's queue, so a state is never
    printed before the records it covers."""

    def __init__(
        self,
        stream_name: str,
        cursor_field: str,
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
    ) -> None:
        self._stream_name = stream_name
        self._cursor_field = CursorField(cursor_field)
        self._message_repository = message_repository
        self._state_manager = state_manager
        self._lock = threading.Lock()
        self._emitted = False

    @property
    def cursor_field(self) -> CursorField:
        return self._cursor_field

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            return self._state_json()

    def observe(self, record: Record) -> None:
        """Nothing per record: partitions save their position at every checkpoint."""

    def close_partition(self, partition: Partition) -> None:
        """Nothing: a partition saves its final position after its last record."""

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            if not self._emitted:
                self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def stream_slices(self) -> Iterable[StreamSlice]:
        yield StreamSlice(partition={}, cursor_slice={})

    def _emit(self) -> object:
        """Emit the current state (called under `_lock`)."""
        self._send(self._state_message())
        return None

    def _state_json(self) -> MutableMapping[str, Any]:
        """The state to emit (called under `_lock`)."""
        raise NotImplementedError

    def _state_message(self) -> AirbyteMessage:
        self._state_manager.update_state_for_stream(self._stream_name, None, self._state_json())
        return self._state_manager.create_state_message(self._stream_name, None)

    def _send(self, message: AirbyteMessage) -> None:
        self._message_repository.emit_message(message)
        self._emitted = True


class FeedCursor(CheckpointCursor):
    """Holds a stream's `FeedState` and emits it as a STATE message at every checkpoint.

    Partitions call `save` from their worker thread after handing the records it covers to the
    engine's queue; the message goes through the same queue (the CDK's
    ConcurrentMessageRepository), so a state is never printed before the records it covers.
    """

    def __init__(
        self,
        stream_name: str,
        cursor_field: str,
        state: FeedState,
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
        printed_states: PrintedStates | None = None,
    ) -> None:
        super().__init__(stream_name, cursor_field, message_repository, state_manager)
        self._printed_states = printed_states or PrintedStates()
        self._state = state
        self._warned_odd_record = False
        self._warned_order_ignored = False

    def position(self, key: PartitionKey) -> FeedPosition:
        project, model = key
        with self._lock:
            return self._state.of_project(project).position(model)

    def save(self, key: PartitionKey, position: FeedPosition) -> threading.Event:
        """Emit the state with `position`; the event is set once it has been printed."""
        project, model = key
        with self._lock:
            self._state.of_project(project).positions[model] = position
            return self._emit()

    def warn_odd_record(self, record: Any) -> None:
        """One warning per stream: a completion without an integer `created`."""
        with self._lock:
            if self._warned_odd_record:
                return
            self._warned_odd_record = True
        LOGGER.warning(
            "%s: a chat completion without an integer `created` (id %r) was read as it is; it "
            "does not move the cursor. Further ones in this sync get no warning.",
            self._stream_name,
            record.get("id") if isinstance(record, dict) else None,
        )

    def warn_order_ignored(self, listing: str) -> None:
        """One warning per stream, however many partitions find it: the server lists in one
        order (`listing`) whatever `order` says."""
        with self._lock:
            if self._warned_order_ignored:
                return
            self._warned_order_ignored = True
        LOGGER.warning("%s: %s", self._stream_name, order_ignored_warning(listing))

    def _state_json(self) -> MutableMapping[str, Any]:
        return self._state.to_json()

    def _emit(self) -> threading.Event:
        """Emit the state; the event is set once it has been printed (tracked before it is
        queued, or the main thread could print it first)."""
        message = self._state_message()
        printed = self._printed_states.track(message)
        self._send(message)
        return printed


@dataclass(frozen=True)
class ProjectRead:
    """One project as a stream reads it: the `project_id` its records carry, where its
    positions live in the stream's state (None: the top level, one project per connection),
    and the client of its list."""

    project_id: str | None
    state_key: str | None
    list_client: ApiClient


class ListPartition(Partition):
    """What a partition of either stream is: one project's list, all models or one, read with
    `list_read` and saved under its key in the stream's `FeedCursor`."""

    stream: str  # the stream's name, set by each subclass

    def __init__(
        self, project: ProjectRead, model: str | None, cursor: FeedCursor, settings: ReadSettings
    ) -> None:
        self._project = project
        self._model = model
        self._key: PartitionKey = (project.state_key, model or ALL_MODELS)
        self._client = project.list_client
        self._cursor = cursor
        self._settings = settings
        named = {"project_id": project.state_key, "model": model}
        self._slice = StreamSlice(
            partition={name: value for name, value in named.items() if value}, cursor_slice={}
        )

    def list_read(self, position: FeedPosition) -> ListRead:
        """The one way either stream reads the list, through the list endpoint's client."""
        page_size = self._settings.page_size
        return list_read(
            list_page_fetcher(self._client, page_size, self._model, "desc"),
            list_page_fetcher(self._client, page_size, self._model, "asc"),
            position,
            self._settings,
            self._cursor.warn_odd_record,
            self._cursor.warn_order_ignored,
        )

    def with_project(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the stream declares it: with the project it was read from."""
        record["project_id"] = self._project.project_id
        return record

    def to_slice(self) -> Mapping[str, Any] | None:
        return self._slice

    def stream_name(self) -> str:
        return self.stream

    def __hash__(self) -> int:
        return hash((self.stream, self._key))


class ProjectModelPartitions(PartitionGenerator):
    """One partition per project and model: each project's whole list, or one per model of the
    `models` filter."""

    def __init__(
        self,
        projects: list[ProjectRead],
        models: list[str] | None,
        make: Callable[[ProjectRead, str | None], Partition],
    ) -> None:
        self._projects = projects
        self._models = models
        self._make = make

    def generate(self) -> Iterable[Partition]:
        for project in self._projects:
            for model in self._models or [None]:
                yield self._make(project, model)
