"""`chat_completions` on the CDK's concurrent engine, with a checkpoint after every page:
partitions that read the list through feed/opening.py and a cursor that owns the versioned
state of feed/state.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import orjson
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.types import Record

from source_openai_chat.feed.opening import ReadSettings
from source_openai_chat.feed.state import FeedState
from source_openai_chat.streams.partitions import (
    FeedCursor,
    ListPartition,
    ProjectModelPartitions,
    ProjectRead,
    stream_schema,
)

STREAM_NAME = "chat_completions"


class CompletionsPartition(ListPartition):
    """One read of the list from both ends: everything, or one model's completions."""

    stream = STREAM_NAME

    def read(self) -> Iterable[Record]:
        position = self._cursor.position(self._key)
        listing = self.list_read(position)
        for page in listing.pages():
            for data in page.records:
                yield Record(
                    data=self.with_project(as_declared(data)),
                    stream_name=STREAM_NAME,
                    associated_slice=self._slice,
                )
            if page.after != page.before:
                self._cursor.save(self._key, replace(position, checkpoint=page.after))
        self._cursor.save(self._key, listing.finished(position))


def as_declared(completion: dict[str, Any]) -> dict[str, Any]:
    """The completion in the shape `discover` declares. `tool_choice` is a string column (since
    1.0.0), but the API echoes the request's object form (`{"type": "function", "function":
    {"name": ...}}`) as it is: written here as its JSON text, so the record stays inside its
    schema whatever the destination does with a value of another type."""
    tool_choice = completion.get("tool_choice")
    if tool_choice is not None and not isinstance(tool_choice, str):
        completion["tool_choice"] = orjson.dumps(tool_choice).decode()
    return completion


def build_completions_stream(
    projects: list[ProjectRead],
    state: FeedState,
    models: list[str] | None,
    settings: ReadSettings,
    message_repository: MessageRepository,
    state_manager: ConnectorStateManager,
) -> DefaultStream:
    """`chat_completions`, reading through checkpointing partitions."""
    cursor = FeedCursor(STREAM_NAME, "created", state, message_repository, state_manager)
    return DefaultStream(
        partition_generator=ProjectModelPartitions(
            projects,
            models,
            lambda project, model: CompletionsPartition(project, model, cursor, settings),
        ),
        name=STREAM_NAME,
        json_schema=lambda: stream_schema(STREAM_NAME),
        primary_key=["id"],
        cursor_field=cursor.cursor_field,
        logger=logging.getLogger(f"airbyte.{STREAM_NAME}"),
        cursor=cursor,
    )
