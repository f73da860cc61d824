"""One completion's input messages: every page, through the messages endpoint's client."""

from __future__ import annotations

import logging
from typing import Any

from source_openai_chat.api.client import ApiClient, Skipped
from source_openai_chat.api.paging import next_after

LOGGER = logging.getLogger("airbyte")


class MessagesFetcher:
    """`messages(completion_id)`: every input message of one completion, oldest first."""

    def __init__(self, client: ApiClient, page_size: int) -> None:
        self._client = client
        self._page_size = page_size

    def messages(self, completion_id: str) -> list[dict[str, Any]] | None:
        """All messages, in order; None when the completion no longer exists (logged)."""
        records: list[dict[str, Any]] = []
        after: str | None = None
        paged_after: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": self._page_size}
            if after:
                params["after"] = after
            page = self._client.page(params, completion_id)
            if isinstance(page, Skipped):
                LOGGER.warning(page.message)
                return None
            records.extend(page.records)
            after = next_after(page, after, paged_after)
            if after is None:
                return records
