"""`chat_completions` on the CDK's concurrent engine, with a checkpoint after every page.

The manifest still defines the stream (schema, requester, auth, retries), and the messages
stream reads it as its parent. As a stream of its own, the source swaps in this one: the same
`DefaultStream`, with a cursor that owns the versioned state of feed_state.py and partitions
that read through feed_reader.py. The CDK's own cursor cannot do it: its state for a data feed
is one `created` value written when a partition ends, and custom incremental cursors are not
supported by the concurrent declarative engine.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.requesters import HttpRequester
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, CursorField
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import (
    PartitionGenerator,
)
from airbyte_cdk.sources.types import Record, StreamSlice

from source_openai_chat.feed_reader import NewestFirstFeed
from source_openai_chat.feed_state import ALL_MODELS, FeedPosition, FeedState
from source_openai_chat.list_pages import list_page_fetcher

STREAM_NAME = "chat_completions"
LOGGER = logging.getLogger("airbyte")


@dataclass(frozen=True)
class ReadSettings:
    """What every partition's read needs from the config."""

    page_size: int
    lookback_seconds: int
    start: int | None  # `start_date` as epoch seconds
    prefetch: bool = True


class CompletionsCursor(Cursor):
    """Holds the stream's `FeedState` and emits it as a STATE message after every page.

    Partitions call `save` from their worker thread after handing a page's records to the
    engine's queue; the message goes through the same queue (the CDK's
    ConcurrentMessageRepository), so a state is never printed before the records it covers.
    """

    def __init__(
        self,
        state: FeedState,
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
    ) -> None:
        self._state = state
        self._message_repository = message_repository
        self._state_manager = state_manager
        self._lock = threading.Lock()
        self._emitted = False
        self._warned_odd_record = False

    @property
    def state(self) -> MutableMapping[str, Any]:
        with self._lock:
            return self._state.to_json()

    @property
    def cursor_field(self) -> CursorField:
        return CursorField("created")

    def position(self, key: str) -> FeedPosition:
        with self._lock:
            return self._state.position(key)

    def save(self, key: str, position: FeedPosition) -> None:
        with self._lock:
            self._state.positions[key] = position
            self._emit()

    def warn_odd_record(self, record: Any) -> None:
        """One warning per stream: a completion without an integer `created`."""
        with self._lock:
            if self._warned_odd_record:
                return
            self._warned_odd_record = True
        LOGGER.warning(
            "A chat completion without an integer `created` (id %r) was delivered as it is; it "
            "does not move the cursor. Further ones in this sync are delivered without a warning.",
            record.get("id"),
        )

    def observe(self, record: Record) -> None:
        """Nothing to do per record: the partition saves a position per page."""

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

    def _emit(self) -> None:
        self._state_manager.update_state_for_stream(STREAM_NAME, None, self._state.to_json())
        self._message_repository.emit_message(
            self._state_manager.create_state_message(STREAM_NAME, None)
        )
        self._emitted = True


class CompletionsPartition(Partition):
    """One newest-first read of the list: everything, or one model's completions."""

    def __init__(
        self,
        model: str | None,
        requester: HttpRequester,
        cursor: CompletionsCursor,
        settings: ReadSettings,
    ) -> None:
        self._model = model
        self._key = model or ALL_MODELS
        self._requester = requester
        self._cursor = cursor
        self._settings = settings
        self._slice = StreamSlice(partition={"model": model} if model else {}, cursor_slice={})

    def read(self) -> Iterable[Record]:
        position = self._cursor.position(self._key)
        feed = NewestFirstFeed(
            fetch=list_page_fetcher(
                self._requester, self._slice, self._settings.page_size, self._model
            ),
            lower_bound=self._lower_bound(position.created),
            resume=position.checkpoint,
            on_odd_record=self._cursor.warn_odd_record,
            prefetch=self._settings.prefetch,
        )
        for records, checkpoint in feed.pages():
            for data in records:
                yield Record(data=data, stream_name=STREAM_NAME, associated_slice=self._slice)
            if checkpoint:
                self._cursor.save(self._key, FeedPosition(position.created, checkpoint))
        self._cursor.save(self._key, position.finished(feed.newest_created))

    def _lower_bound(self, floor: int | None) -> int | None:
        """As the CDK's data feed: the floor minus the lookback, never below `start_date`
        unless the floor itself is."""
        start = self._settings.start
        if floor is None:
            return start
        lower = floor - self._settings.lookback_seconds
        return max(lower, min(floor, start)) if start is not None else lower

    def to_slice(self) -> Mapping[str, Any] | None:
        return self._slice

    def stream_name(self) -> str:
        return STREAM_NAME

    def __hash__(self) -> int:
        return hash((STREAM_NAME, self._key))


class CompletionsPartitions(PartitionGenerator):
    """One partition for the whole list, or one per model of the `models` filter."""

    def __init__(self, models: list[str] | None, make: Callable[[str | None], Partition]) -> None:
        self._models = models
        self._make = make

    def generate(self) -> Iterable[Partition]:
        for model in self._models or [None]:
            yield self._make(model)


def build_completions_stream(
    declarative: DefaultStream,
    requester: HttpRequester,
    state: FeedState,
    models: list[str] | None,
    settings: ReadSettings,
    message_repository: MessageRepository,
    state_manager: ConnectorStateManager,
) -> DefaultStream:
    """The manifest's `chat_completions` stream, reading through checkpointing partitions."""
    cursor = CompletionsCursor(state, message_repository, state_manager)
    return DefaultStream(
        partition_generator=CompletionsPartitions(
            models, lambda model: CompletionsPartition(model, requester, cursor, settings)
        ),
        name=STREAM_NAME,
        json_schema=declarative.get_json_schema,
        primary_key=["id"],
        cursor_field=cursor.cursor_field,
        logger=logging.getLogger(f"airbyte.{STREAM_NAME}"),
        cursor=cursor,
    )
