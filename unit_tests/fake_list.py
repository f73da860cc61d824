"""The API's list in memory, both orders, paged by `after`; ids can be added and deleted."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.reader import CursorVanished


class FakeList:
    """Completions ordered by `created` then a tiebreak unrelated to id or arrival (as the API
    documents no order within a second); `fetch(order)` gives a chain's `fetch(after)`."""

    def __init__(
        self, created: list[int], page_size: int = 3, same_tie_order_both_ways: bool = False
    ) -> None:
        self.items: list[dict[str, Any]] = []
        self.page_size = page_size
        # True: oldest first lists a second's ties in the same order as newest first (not the
        # reverse), which no document rules out.
        self.same_tie_order_both_ways = same_tie_order_both_ways
        self.requests: list[tuple[str, str | None]] = []
        self.before_request: dict[int, Callable[[FakeList], None]] = {}  # request number -> change
        for index, value in enumerate(sorted(created)[::-1]):
            self.add({"id": f"c{index}", "created": value})

    def add(self, record: dict[str, Any]) -> None:
        self.items.append(record)
        self.items.sort(key=_newest_first)

    def delete(self, completion_id: str) -> None:
        self.items = [item for item in self.items if item["id"] != completion_id]

    def ids(self) -> list[str]:
        return [item["id"] for item in self.items]

    def fetch(self, order: str = "desc") -> Callable[[str | None], ApiPage]:
        def fetch(after: str | None) -> ApiPage:
            self.requests.append((order, after))
            change = self.before_request.pop(len(self.requests), None)
            if change:
                change(self)
            items = self.items if order == "desc" else self._oldest_first()
            start = 0
            if after is not None:
                positions = [i for i, item in enumerate(items) if item["id"] == after]
                if not positions:
                    raise CursorVanished(after)
                start = positions[0] + 1
            data = items[start : start + self.page_size]
            has_more = start + self.page_size < len(items)
            return ApiPage(data, has_more, data[-1]["id"] if data else None)

        return fetch

    def _oldest_first(self) -> list[dict[str, Any]]:
        if not self.same_tie_order_both_ways:
            return self.items[::-1]
        created_then_tiebreak = lambda record: (-_newest_first(record)[0], _newest_first(record)[1])  # noqa: E731
        return sorted(self.items, key=created_then_tiebreak)


def _newest_first(record: dict[str, Any]) -> tuple[int, int]:
    created = record["created"] if type(record["created"]) is int else 0
    tiebreak = int.from_bytes(hashlib.blake2b(record["id"].encode(), digest_size=4).digest())
    return (-created, tiebreak)
