"""What both streams share: how the list of completions is read, partitioned and checkpointed.

`chat_completions` and `chat_completion_messages` each list the completions through
`open_feed` (the same two chains, lower bound, `start_date` rule, model partitions, metadata
filter and recovery from a vanished `after` id) and keep a `FeedState` through a `FeedCursor`.
The CDK's own cursor cannot do it: its state for a data feed is one value written when a
partition ends, and the concurrent declarative engine accepts no custom incremental cursor.
"""

from __future__ import annotations

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

from source_openai_chat.api.client import ApiClient
from source_openai_chat.feed.pages import list_page_fetcher
from source_openai_chat.feed.reader import Page, order_ignored_warning, warn_order_ignored
from source_openai_chat.feed.state import (
    ALL_MODELS,
    ChainPosition,
    Checkpoint,
    FeedPosition,
    FeedState,
)
from source_openai_chat.feed.two_ended import ListRead

LOGGER = logging.getLogger("airbyte")


@dataclass(frozen=True)
class ReadSettings:
    """What every partition's read needs from the config."""

    page_size: int
    lookback_seconds: int
    start: int | None  # `start_date` as epoch seconds
    # A sync reads from both ends, each chain a page ahead in its own thread; `check` wants one
    # request, in its own thread.
    background: bool = True


def lower_bound(floor: int | None, settings: ReadSettings) -> int | None:
    """Where a read stops: the floor minus the lookback, and never below `start_date`, whatever
    the saved state says (a floor below it, for example after `start_date` was raised)."""
    lower = None if floor is None else floor - settings.lookback_seconds
    if settings.start is None:
        return lower
    return settings.start if lower is None else max(lower, settings.start)


def open_feed(
    client: ApiClient,
    model: str | None,
    position: FeedPosition,
    settings: ReadSettings,
    on_odd_record: Callable[[Any], None],
    on_order_ignored: Callable[[str], None] = warn_order_ignored,
) -> ListRead:
    """The one way either stream reads the list (see `list_read`), through the list requester."""
    return list_read(
        list_page_fetcher(client, settings.page_size, model, "desc"),
        list_page_fetcher(client, settings.page_size, model, "asc"),
        position,
        settings,
        on_odd_record,
        on_order_ignored,
    )


def list_read(
    newest_first: Callable[[str | None], Page],
    oldest_first: Callable[[str | None], Page],
    position: FeedPosition,
    settings: ReadSettings,
    on_odd_record: Callable[[Any], None],
    on_order_ignored: Callable[[str], None] = warn_order_ignored,
) -> ListRead:
    """Newest first from the top (or the position's checkpoint) down to its lower bound and, in
    a sync, oldest first from where a known id marks the way, until the two meet.

    The oldest-first chain starts after the position's anchor, the newest completion the last
    finished sync delivered; on a first or full read without `start_date`, at the oldest end.
    With a `start_date` and no anchor at or above it, it does not run: it would read what lies
    below the start.
    """
    anchor = None
    two_ended = False
    if settings.background:
        if position.created is None:
            two_ended = settings.start is None
        elif position.anchor and (settings.start is None or position.created >= settings.start):
            anchor = ChainPosition(position.anchor, position.created)
            two_ended = True
    return ListRead(
        newest_first=newest_first,
        oldest_first=oldest_first,
        lower_bound=lower_bound(position.created, settings),
        anchor=anchor,
        checkpoint=_resumable(position.checkpoint, anchor, two_ended),
        two_ended=two_ended,
        on_odd_record=on_odd_record,
        background=settings.background,
        on_order_ignored=on_order_ignored,
    )


def _resumable(
    checkpoint: Checkpoint | None, anchor: ChainPosition | None, two_ended: bool
) -> Checkpoint | None:
    """The part of a saved checkpoint this read can continue from: the oldest-first chain's
    place (and whether the chains met) only if this read starts that chain where it started
    (a `start_date` or a full refresh may have changed it), or if it was the one chain of a
    server that lists oldest first, which always starts at the oldest end."""
    if checkpoint is None or checkpoint.listed_oldest_first:
        return checkpoint  # one chain from the oldest end, whatever this read's anchor
    if not (checkpoint.ascending or checkpoint.met):
        return checkpoint
    if two_ended and checkpoint.origin == (anchor.after if anchor else None):
        return checkpoint
    return checkpoint.newest_first_only()


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


class FeedCursor(Cursor):
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
        self._stream_name = stream_name
        self._printed_states = printed_states or PrintedStates()
        self._cursor_field = CursorField(cursor_field)
        self._state = state
        self._message_repository = message_repository
        self._state_manager = state_manager
        self._lock = threading.Lock()
        self._emitted = False
        self._warned_odd_record = False
        self._warned_order_ignored = False

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            return self._state.to_json()

    @property
    def cursor_field(self) -> CursorField:
        return self._cursor_field

    def position(self, key: str) -> FeedPosition:
        with self._lock:
            return self._state.position(key)

    def save(self, key: str, position: FeedPosition) -> threading.Event:
        """Emit the state with `position`; the event is set once it has been printed."""
        with self._lock:
            self._state.positions[key] = position
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

    def observe(self, record: Record) -> None:
        """Nothing to do per record: partitions save a position per checkpoint."""

    def close_partition(self, partition: Partition) -> None:
        """Nothing to do: the partition saved its final position after its last record."""

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            if not self._emitted:
                self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def stream_slices(self) -> Iterable[StreamSlice]:
        yield StreamSlice(partition={}, cursor_slice={})

    def _emit(self) -> threading.Event:
        self._state_manager.update_state_for_stream(self._stream_name, None, self._state.to_json())
        message = self._state_manager.create_state_message(self._stream_name, None)
        printed = self._printed_states.track(message)
        self._message_repository.emit_message(message)
        self._emitted = True
        return printed


class ListPartition(Partition):
    """What a partition of either stream is: one list position (all models, or one model),
    read with `open_feed` and saved under its key in the stream's `FeedCursor`."""

    stream: str  # the stream's name, set by each subclass

    def __init__(
        self, model: str | None, client: ApiClient, cursor: FeedCursor, settings: ReadSettings
    ) -> None:
        self._model = model
        self._key = model or ALL_MODELS
        self._client = client
        self._cursor = cursor
        self._settings = settings
        self._slice = StreamSlice(partition={"model": model} if model else {}, cursor_slice={})

    def open_feed(self, position: FeedPosition) -> ListRead:
        return open_feed(
            self._client,
            self._model,
            position,
            self._settings,
            self._cursor.warn_odd_record,
            self._cursor.warn_order_ignored,
        )

    def to_slice(self) -> Mapping[str, Any] | None:
        return self._slice

    def stream_name(self) -> str:
        return self.stream

    def __hash__(self) -> int:
        return hash((self.stream, self._key))


class ModelPartitions(PartitionGenerator):
    """One partition for the whole list, or one per model of the `models` filter."""

    def __init__(self, models: list[str] | None, make: Callable[[str | None], Partition]) -> None:
        self._models = models
        self._make = make

    def generate(self) -> Iterable[Partition]:
        for model in self._models or [None]:
            yield self._make(model)
