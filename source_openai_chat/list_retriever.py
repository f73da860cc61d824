"""The manifest's retriever for `chat_completions` where the CDK reads it as a parent stream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass
from typing import Any

from airbyte_cdk.sources.declarative.interpolation import InterpolatedString
from airbyte_cdk.sources.declarative.requesters import Requester
from airbyte_cdk.sources.declarative.retrievers import Retriever
from airbyte_cdk.sources.streams.core import StreamData
from airbyte_cdk.sources.types import Config, Record, StreamSlice

from source_openai_chat.feed_reader import NewestFirstFeed
from source_openai_chat.list_pages import list_page_fetcher


@dataclass
class NewestFirstRetriever(Retriever):
    """Reads the list newest first down to the slice's start, through `NewestFirstFeed`.

    The messages stream reads its parent through the CDK's engine, which hands this retriever
    a slice from the parent's own cursor (start = saved cursor minus the lookback). Paging with
    the reader instead of the CDK's paginator gives that listing the same recovery from a
    deleted `after` id and the same prefetching as `chat_completions` itself; checkpoints are
    left to the messages stream's own state.
    """

    requester: Requester
    config: Config
    parameters: InitVar[Mapping[str, Any]]
    name: str = "chat_completions"
    page_size: int | str = 100
    start_field: str = "start_time"

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        size = InterpolatedString.create(str(self.page_size), parameters=parameters)
        self._page_size = int(size.eval(self.config))

    def read_records(
        self,
        records_schema: Mapping[str, Any],
        stream_slice: StreamSlice | None = None,
    ) -> Iterable[StreamData]:
        stream_slice = stream_slice or StreamSlice(partition={}, cursor_slice={})
        start = stream_slice.cursor_slice.get(self.start_field)
        model = stream_slice.partition.get("model")
        feed = NewestFirstFeed(
            fetch=list_page_fetcher(self.requester, stream_slice, self._page_size, model),
            lower_bound=int(start) if start not in (None, "") else None,
            on_odd_record=lambda record: None,  # warned about by chat_completions itself
        )
        for records, _checkpoint in feed.pages():
            for data in records:
                yield Record(data=data, stream_name=self.name, associated_slice=stream_slice)
