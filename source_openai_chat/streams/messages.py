"""`chat_completion_messages`: the list read as `chat_completions` reads it, then each listed
completion's input messages, fetched concurrently, delivered in list order, checkpointed.

Why not the CDK's substream: its parent listing was a second implementation of the list (and
drifted from the first), its state is written only when the read ends, it requests the
messages of every completion in the lookback window again on every sync, and its workers run
as far ahead of any checkpoint as the partition queue allows.

Here one partition per list position (all models, or one per model) reads the list with
`list_read` and hands each completion that needs its messages to a shared pool of
`num_workers` threads, paced by one `SharedRateLimiter`. Messages come out in list order, so
"every completion up to X is delivered" is a checkpoint: one is saved whenever
`CHECKPOINT_EVERY` requested completions have been delivered since the last one, and at list
page ends. No worker starts a completion more than `REQUESTED_AHEAD` requested completions past
the last saved checkpoint, so a resumed sync requests at most that many again, however many
messages a completion has. The state also carries the completions of the lookback window whose
messages were delivered (feed/fetched_window.py): the next sync lists them again but does not
request them again.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.types import Record

from source_openai_chat.api.rate_limiter import Stopped
from source_openai_chat.feed.fetched_window import FetchedWindow
from source_openai_chat.feed.meeting import ClaimedPage
from source_openai_chat.feed.opening import ReadSettings, lower_bound
from source_openai_chat.feed.state import Checkpoint, FeedPosition, FeedState
from source_openai_chat.streams.messages_fetch import MessagesFetcher
from source_openai_chat.streams.partitions import (
    FeedCursor,
    ListPartition,
    PrintedStates,
    ProjectModelPartitions,
    ProjectRead,
    stream_schema,
)

MESSAGES_STREAM = "chat_completion_messages"
REQUESTED_AHEAD = 100  # requested completions past the last printed checkpoint, at most
CHECKPOINT_EVERY = 50  # requested completions delivered between two checkpoints
PRINT_WAIT_SECONDS = 10.0  # longest wait for a checkpoint to be printed before going on

Messages = list[dict[str, Any]] | None


class DaemonPool:
    """`submit(fn, arg)` on `size` daemon threads, started on first use.

    Why not `ThreadPoolExecutor`: its threads are joined when the interpreter exits, so a sync
    that had already failed would wait for every request still retrying or waiting out a rate
    limit before it could exit.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[str], Any], str]] = (
            queue.SimpleQueue()
        )
        self._started = False
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[str], Any], argument: str) -> Future[Any]:
        with self._lock:
            if not self._started:
                for index in range(self._size):
                    name = f"messages-{index}"
                    threading.Thread(target=self._work, name=name, daemon=True).start()
                self._started = True
        future: Future[Any] = Future()
        self._jobs.put((future, fn, argument))
        return future

    def _work(self) -> None:
        while True:
            future, fn, argument = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(argument))
            except BaseException as error:  # handed to the partition, which raises it
                future.set_exception(error)


@dataclass
class _Listed:
    """A listed completion on its way out: its messages (a future, or None when an earlier
    sync delivered them) and the checkpoint that is true once it is delivered."""

    completion: dict[str, Any] | None  # None: a page that delivered no completion
    messages: Future[Messages] | None
    checkpoint: Checkpoint | None
    page_end: bool


class MessagesPartition(ListPartition):
    """The messages of every completion one read of the list (from both ends) yields."""

    stream = MESSAGES_STREAM

    def __init__(
        self,
        project: ProjectRead,
        model: str | None,
        fetcher: MessagesFetcher,
        pool: DaemonPool,
        stop_sync: Callable[[BaseException], None],
        cursor: FeedCursor,
        settings: ReadSettings,
    ) -> None:
        super().__init__(project, model, cursor, settings)
        self._fetcher = fetcher
        self._pool = pool
        self._stop_sync = stop_sync

    def read(self) -> Iterable[Record]:
        position = self._cursor.position(self._key)
        listing = self.list_read(position)
        # Completions below the next sync's lower bound need not be remembered as fetched.
        next_window = lambda: lower_bound(  # noqa: E731
            listing.finished(position).floor, self._settings
        )
        delivery = _OrderedDelivery(self, position, next_window)
        try:
            for page in listing.pages():
                if not page.records and page.after != page.before:
                    yield from delivery.make_room()
                    delivery.add_page_end(page)
                for index, completion in enumerate(page.records):
                    yield from delivery.make_room()
                    delivery.add(completion, page, page_end=index == len(page.records) - 1)
            yield from delivery.drain()
        except GeneratorExit:
            delivery.cancel()
            raise
        except Stopped as stopped:  # another request failed first: report that failure
            delivery.cancel()
            raise (stopped.cause or stopped) from None
        except BaseException as error:
            delivery.cancel()
            self._stop_sync(error)  # the sync fails: wake the requests waiting on the limiter
            raise
        # Keep the completions the next sync lists again: those above its lower bound.
        keep = delivery.fetched.since(next_window())
        self._cursor.save(self._key, listing.finished(position, keep))

    def record(self, message: dict[str, Any], completion: dict[str, Any]) -> Record:
        message["completion_id"] = completion.get("id")
        message["completion_created"] = completion.get("created")
        return Record(
            data=self.with_project(message),
            stream_name=MESSAGES_STREAM,
            associated_slice=self._slice,
        )

    def submit(self, completion_id: str) -> Future[Messages]:
        return self._pool.submit(self._fetch, completion_id)

    def _fetch(self, completion_id: str) -> Messages:
        """In a pool thread. A failure stops the other requests at once: the partition only
        sees it when it reaches this completion, up to REQUESTED_AHEAD completions later."""
        try:
            return self._fetcher.messages(completion_id)
        except Stopped:
            raise
        except BaseException as error:
            self._stop_sync(error)
            raise

    def save(self, position: FeedPosition) -> threading.Event:
        return self._cursor.save(self._key, position)


class _OrderedDelivery:
    """Hands out messages in list order and saves checkpoints, for one partition's read.

    Holds the listed completions from the oldest not yet delivered to the newest requested,
    and counts how far the requests run past the last printed checkpoint.
    """

    def __init__(
        self,
        partition: MessagesPartition,
        position: FeedPosition,
        next_window: Callable[[], int | None],
    ) -> None:
        self._partition = partition
        self._position = position
        self._next_window = next_window
        # Completions whose messages were delivered, by an earlier sync (the saved window) or
        # by this one: not requested again.
        self.fetched = position.fetched.copy() if position.fetched else FetchedWindow()
        self._pending: deque[_Listed] = deque()
        self._unprinted: deque[tuple[threading.Event, int]] = deque()  # saved checkpoints not
        # yet printed, with the requested completions each covers
        self._requested_past_checkpoint = 0  # the last printed one
        self._delivered_past_checkpoint = 0  # the last saved one

    def add(self, completion: dict[str, Any], page: ClaimedPage, page_end: bool) -> None:
        completion_id = completion.get("id")
        created = completion.get("created")
        if not isinstance(completion_id, str):
            raise ValueError(f"a listed completion has no string id: {completion_id!r}")
        known = type(created) is int and self.fetched.contains(completion_id)
        messages = None if known else self._partition.submit(completion_id)
        if messages is not None:
            self._requested_past_checkpoint += 1
        # Inside a page the meeting allows checkpoints in, any completion is a place to
        # continue after.
        checkpoint = page.after if page_end else page.within(completion)
        self._pending.append(_Listed(completion, messages, checkpoint, page_end))

    def add_page_end(self, page: ClaimedPage) -> None:
        """A page that delivered nothing but moved the checkpoint (a chain's place, or the
        chains meeting)."""
        self._pending.append(_Listed(None, None, page.after, page_end=True))

    def make_room(self) -> Iterator[Record]:
        """Deliver from the front, and wait for checkpoints to be printed, until one more
        completion may be requested."""
        while True:
            while self._unprinted and self._unprinted[0][0].is_set():
                self._requested_past_checkpoint -= self._unprinted.popleft()[1]
            if self._requested_past_checkpoint < REQUESTED_AHEAD:
                return
            if self._pending:
                yield from self._deliver_front()
            elif self._unprinted:
                printed, covered = self._unprinted.popleft()
                printed.wait(PRINT_WAIT_SECONDS)  # the main thread prints it in milliseconds
                self._requested_past_checkpoint -= covered
            else:
                return

    def drain(self) -> Iterator[Record]:
        while self._pending:
            yield from self._deliver_front()

    def cancel(self) -> None:
        for listed in self._pending:
            if listed.messages is not None:
                listed.messages.cancel()

    def _deliver_front(self) -> Iterator[Record]:
        listed = self._pending.popleft()
        completion = listed.completion
        if completion is not None:
            if listed.messages is not None:
                for message in listed.messages.result() or []:
                    yield self._partition.record(message, completion)
                self._delivered_past_checkpoint += 1
            created = completion.get("created")
            keep_from = self._next_window()
            if type(created) is int and (keep_from is None or created >= keep_from):
                self.fetched.add(completion["id"], created)
        due = self._delivered_past_checkpoint >= CHECKPOINT_EVERY or listed.page_end
        if listed.checkpoint is not None and due:
            # A copy: another partition's thread may write the whole state out meanwhile.
            printed = self._partition.save(
                replace(self._position, checkpoint=listed.checkpoint, fetched=self.fetched.copy())
            )
            self._unprinted.append((printed, self._delivered_past_checkpoint))
            self._delivered_past_checkpoint = 0


def build_messages_stream(
    projects: list[tuple[ProjectRead, MessagesFetcher]],
    stop_sync: Callable[[BaseException], None],
    workers: int,
    state: FeedState,
    models: list[str] | None,
    settings: ReadSettings,
    message_repository: MessageRepository,
    state_manager: ConnectorStateManager,
    printed_states: PrintedStates,
) -> DefaultStream:
    """`chat_completion_messages`, reading through the shared list; every project's messages
    requests share one pool of `workers` threads. `stop_sync` wakes every request waiting on a
    rate limiter when the sync fails."""
    cursor = FeedCursor(
        MESSAGES_STREAM,
        "completion_created",
        state,
        message_repository,
        state_manager,
        printed_states,
    )
    pool = DaemonPool(workers)
    fetchers = {id(project): fetcher for project, fetcher in projects}

    def partition(project: ProjectRead, model: str | None) -> Partition:
        fetcher = fetchers[id(project)]
        return MessagesPartition(project, model, fetcher, pool, stop_sync, cursor, settings)

    return DefaultStream(
        partition_generator=ProjectModelPartitions(
            [project for project, _ in projects], models, partition
        ),
        name=MESSAGES_STREAM,
        json_schema=lambda: stream_schema(MESSAGES_STREAM),
        primary_key=["completion_id", "id"],
        cursor_field=cursor.cursor_field,
        logger=logging.getLogger(f"airbyte.{MESSAGES_STREAM}"),
        cursor=cursor,
    )
