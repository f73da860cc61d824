"""The manifest's one custom component that is not about answers (those are in api/answers.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass
from typing import Any

from airbyte_cdk.sources.declarative.retrievers import Retriever
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.types import StreamSlice


@dataclass
class ReadBySource(Retriever):
    """The retriever of a stream that source.py reads with its own partitions.

    The manifest declares both streams (name, primary key, schema), but their reads need what
    no declarative retriever offers: a checkpoint inside a newest-first read, recovery from a
    deleted `after` id, and ordered concurrent fetching of messages. `SourceOpenaiChat.streams`
    replaces every stream that uses this retriever; reaching it means that replacement did not
    happen, which must fail loudly rather than read the list a second way.
    """

    parameters: InitVar[Mapping[str, Any]]

    def read_records(
        self, records_schema: Mapping[str, Any], stream_slice: StreamSlice | None = None
    ) -> Iterable[StreamData]:
        raise RuntimeError(
            "this stream is read by SourceOpenaiChat.streams(), not by the manifest's retriever"
        )
