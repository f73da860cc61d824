"""The organization's streams, read with an admin key: `projects`, `usage_completions`, `costs`.

`projects` is the organization's list of projects (archived too), read whole on every sync.
`usage_completions` and `costs` are OpenAI's time buckets, one record per result per bucket
with the bucket's `start_time` and `end_time`, grouped by every dimension the endpoint offers.
They are incremental on `start_time`: each sync starts `usage_lookback_days` before the newest
bucket the last sync read (OpenAI fills in and revises recent buckets late), so today's
provisional bucket is read again by the next sync.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import (
    PartitionGenerator,
)
from airbyte_cdk.sources.types import Record
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.client import ApiClient, Skipped
from source_openai_chat.api.paging import next_after
from source_openai_chat.streams.partitions import CheckpointCursor, stream_schema

PROJECTS = "projects"
USAGE_COMPLETIONS = "usage_completions"
COSTS = "costs"
DAY = 86_400
DEFAULT_HISTORY_DAYS = 30  # without start_date: usage and costs from 30 UTC days back
# A dimension that is null (not applicable) in a primary key: never a real id, model or tier.
NO_DIMENSION = ""


@dataclass(frozen=True)
class Buckets:
    """One bucketed endpoint: its path, its dimensions (all grouped by, all in the primary
    key) and how many buckets a page may hold."""

    stream: str
    path: str
    dimensions: tuple[str, ...]
    limit: int


USAGE = Buckets(
    USAGE_COMPLETIONS,
    "usage/completions",
    ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"),
    limit=31,  # the most 1d buckets a page holds (1h: 168, below)
)
COST = Buckets(COSTS, "costs", ("project_id", "line_item", "api_key_id"), limit=180)
HOURLY_LIMIT = 168


def first_bucket_start(
    newest_read: int | None, lookback_days: int, start: int | None, now: datetime
) -> int:
    """Where a sync starts, on a UTC day boundary: `lookback_days` before the newest bucket the
    last sync read; on a first sync, at `start_date`'s day or 30 days back. Never before
    `start_date`'s day."""
    if newest_read is not None:
        begin = _day(newest_read) - lookback_days * DAY
    elif start is not None:
        begin = _day(start)
    else:
        begin = _day(int(now.timestamp())) - DEFAULT_HISTORY_DAYS * DAY
    return begin if start is None else max(begin, _day(start))


def _day(seconds: int) -> int:
    return seconds - seconds % DAY


def with_keyed_dimensions(result: dict[str, Any], dimensions: Iterable[str]) -> dict[str, Any]:
    """The result with no null primary-key part: a dimension OpenAI left null (not
    applicable to that result) becomes NO_DIMENSION, `batch` False."""
    for name in dimensions:
        if result.get(name) is None:
            result[name] = False if name == "batch" else NO_DIMENSION
    return result


class NewestBucketCursor(CheckpointCursor):
    """The state of a bucketed stream: `{"start_time": newest bucket start read}`.

    Why not the CDK's ConcurrentCursor: it checkpoints when a slice closes, so a checkpoint
    per page would cost one request per day instead of one per page of buckets. Pages come
    oldest first, so the newest bucket read is a checkpoint after every page.
    """

    def __init__(
        self,
        stream_name: str,
        state: Mapping[str, Any] | None,
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
    ) -> None:
        super().__init__(stream_name, "start_time", message_repository, state_manager)
        newest = (state or {}).get("start_time")
        self.newest_read: int | None = newest if type(newest) is int else None

    def _state_json(self) -> MutableMapping[str, Any]:
        return {} if self.newest_read is None else {"start_time": self.newest_read}

    def read(self, bucket_start: int) -> None:
        with self._lock:
            if self.newest_read is None or bucket_start > self.newest_read:
                self.newest_read = bucket_start

    def checkpoint(self) -> None:
        with self._lock:
            self._emit()


class _OnePartition(PartitionGenerator):
    def __init__(self, partition: Partition) -> None:
        self._partition = partition

    def generate(self) -> Iterable[Partition]:
        yield self._partition


class BucketsPartition(Partition):
    """Every bucket from the first start on, page after page (`page` = the last `next_page`)."""

    def __init__(
        self,
        buckets: Buckets,
        client: ApiClient,
        cursor: NewestBucketCursor,
        first_start: Callable[[int | None], int],
    ) -> None:
        self._buckets = buckets
        self._client = client
        self._cursor = cursor
        self._first_start = first_start

    def read(self) -> Iterable[Record]:
        params: dict[str, Any] = {"start_time": self._first_start(self._cursor.newest_read)}
        seen_pages: set[str] = set()
        while True:
            page = self._client.page(params)
            if isinstance(page, Skipped):  # not answered for the organization endpoints
                raise _refused(page.message)
            for bucket in page.records:
                start, end = bucket.get("start_time"), bucket.get("end_time")
                for result in bucket.get("results") or []:
                    record = {**result, "start_time": start, "end_time": end}
                    yield Record(
                        data=with_keyed_dimensions(record, self._buckets.dimensions),
                        stream_name=self._buckets.stream,
                        associated_slice=None,
                    )
                if type(start) is int:
                    self._cursor.read(start)
            self._cursor.checkpoint()
            token = page.next_page if page.has_more else None
            if not token:
                return
            if token in seen_pages:
                raise _refused(f"the API sent the same next_page twice ({token!r})")
            seen_pages.add(token)
            params = {**params, "page": token}

    def to_slice(self) -> Mapping[str, Any] | None:
        return None

    def stream_name(self) -> str:
        return self._buckets.stream

    def __hash__(self) -> int:
        return hash(self._buckets.stream)


class ProjectsPartition(Partition):
    """The organization's projects, archived ones included, page after page."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client

    def read(self) -> Iterable[Record]:
        after: str | None = None
        paged_after: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": 100, "include_archived": "true"}
            if after:
                params["after"] = after
            page = self._client.page(params)
            if isinstance(page, Skipped):
                raise _refused(page.message)
            for project in page.records:
                yield Record(data=project, stream_name=PROJECTS, associated_slice=None)
            after = next_after(page, after, paged_after)
            if after is None:
                return

    def to_slice(self) -> Mapping[str, Any] | None:
        return None

    def stream_name(self) -> str:
        return PROJECTS

    def __hash__(self) -> int:
        return hash(PROJECTS)


def _refused(detail: str) -> AirbyteTracedException:
    message = f"The API refused the organization's data: {detail}"
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.system_error
    )


def build_projects_stream(
    client: ApiClient, message_repository: MessageRepository
) -> DefaultStream:
    return DefaultStream(
        partition_generator=_OnePartition(ProjectsPartition(client)),
        name=PROJECTS,
        json_schema=lambda: stream_schema(PROJECTS),
        primary_key=["id"],
        cursor_field=None,
        logger=logging.getLogger(f"airbyte.{PROJECTS}"),
        cursor=FinalStateCursor(PROJECTS, None, message_repository),
    )


def build_buckets_stream(
    buckets: Buckets,
    client: ApiClient,
    state: Mapping[str, Any] | None,
    lookback_days: int,
    start: int | None,
    message_repository: MessageRepository,
    state_manager: ConnectorStateManager,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> DefaultStream:
    cursor = NewestBucketCursor(buckets.stream, state, message_repository, state_manager)

    def first_start(newest_read: int | None) -> int:
        return first_bucket_start(newest_read, lookback_days, start, now())

    return DefaultStream(
        partition_generator=_OnePartition(BucketsPartition(buckets, client, cursor, first_start)),
        name=buckets.stream,
        json_schema=lambda: stream_schema(buckets.stream),
        primary_key=["start_time", *buckets.dimensions],
        cursor_field=cursor.cursor_field,
        logger=logging.getLogger(f"airbyte.{buckets.stream}"),
        cursor=cursor,
    )


def usage_params(bucket_width: str) -> dict[str, Any]:
    limit = USAGE.limit if bucket_width == "1d" else HOURLY_LIMIT
    return {"bucket_width": bucket_width, "group_by": list(USAGE.dimensions), "limit": limit}


def costs_params() -> dict[str, Any]:
    return {"bucket_width": "1d", "group_by": list(COST.dimensions), "limit": COST.limit}
