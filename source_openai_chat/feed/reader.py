"""The two chains a list is read by: newest first from the top, oldest first from an anchor.

Why not the CDK's SimpleRetriever: its paginator cannot say where a read stands (the CDK
writes state only when a partition ends), cannot recover when the `after` id it pages from is
deleted (retention deletes the oldest completions, exactly where a long first sync reads), and
reads one chain of pages, so a sync takes at least pages x round trip. Each chain here yields
its pages with the place to continue after them and recovers from a vanished `after` id;
which of its records are delivered is the meeting's to say (feed/meeting.py), and both chains
run at once in feed/two_ended.py. HTTP (auth, retries, backoff) is api/'s, behind `fetch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.paging import ApiPage, next_after, refuse_repeat
from source_openai_chat.feed.state import ChainPosition

LOGGER = logging.getLogger("airbyte")

MAX_RECOVERIES = 10  # vanished `after` ids per read before the sync fails (then it resumes)
REMEMBERED_BOUNDARIES = 8  # earlier page ends to step back to when an `after` id vanishes


@dataclass(frozen=True)
class ChainPage:
    """A page one chain read: the records it offers, where the chain continues once they are
    delivered (None: not a safe place to resume from), and whether the chain reached its end
    of the list (or the lower bound) here."""

    records: list[Any]
    position: ChainPosition | None
    # A chain that gives up before its end (an empty page claiming more) ends after a page
    # that is not `last`: reaching the end would tell the meeting that this chain delivered
    # everything up to the other one, and the other chain would stop short.
    last: bool
    # Whether the chain has shown that the server lists in the order it asked for: a `created`
    # below one it saw before (newest first) or above it (oldest first). Until then its place
    # stops neither chain: a server that ignores `order` would pass one end off as the other.
    proven: bool = False


class CursorVanished(Exception):
    """The `after` id of a request no longer exists (deleted, or expired by retention)."""


class ListedOldestFirst(Exception):
    """The newest-first chain was answered oldest first (a `created` going up before any went
    down): the server ignores `order` and lists oldest first; the read goes on as one chain in
    that order (feed/two_ended.py)."""


class _Direction:
    """The `created` values one chain has read, in order: whether they have gone its way yet,
    and whether they ever went against it. Ties and odd values tell nothing."""

    def __init__(self, newest_first: bool, last: int | None, proven: bool) -> None:
        self.newest_first = newest_first
        self.last = last
        self.proven = proven

    def step(self, created: int) -> bool:
        """True: `created` goes the chain's way (or ties); False: against it, before any went
        its way; an unsorted list (against it after going its way) fails the read."""
        last, self.last = self.last, created
        if last is None or created == last:
            return True
        if (created < last) == self.newest_first:
            self.proven = True
            return True
        if self.proven:
            raise _unsorted_list(last, created, self.newest_first)
        return False


def order_ignored_warning(listing: str) -> str:
    """What a user is told when the server lists in `listing` order ("asc" or "desc")
    whatever `order` says."""
    if listing == "desc":
        return (
            "The server listed completions newest first when asked for the oldest first "
            "(order=asc): it ignores `order`. The list is read newest first alone; nothing is "
            "lost."
        )
    return (
        "The server listed completions oldest first when asked for the newest first "
        "(order=desc): it ignores `order`. The list is read oldest first alone, from the oldest "
        "end, on every sync; nothing is lost, but each sync reads the whole list."
    )


def warn_order_ignored(listing: str) -> None:
    LOGGER.warning(order_ignored_warning(listing))


def _unsorted_list(before: int, after: int, newest_first: bool) -> AirbyteTracedException:
    order = "desc" if newest_first else "asc"
    return _fail(
        "The server at base_url lists completions in neither order: asked for "
        f"order={order}, it sent `created` {after} after {before}, and earlier the other way. "
        "Reading such a list cannot be complete, so the sync stopped instead of delivering "
        "part of it; the server must list completions sorted by `created`.",
        FailureType.system_error,
    )


@dataclass(frozen=True)
class Boundary:
    """The end of a delivered page: `after` continues after it; `created` finds it again."""

    after: str | None  # None: the top of the list
    created: int | None


@dataclass
class NewestFirstFeed:
    """One newest-first chain, down to `lower_bound` (exclusive) or the end of the list.

    Records older than `lower_bound` are not offered; once the chain has shown `created`
    going down (`proven`), the first of them ends it. Until then such a record may be the oldest
    end of a server that ignores `order`: the chain reads on until `created` goes down (it
    ends there) or up (ListedOldestFirst). A record without an integer `created` is offered
    (data first), reported to `on_odd_record`, and never moves the position. When an `after` id
    vanishes, the chain steps back to an earlier page end (or the top) and skips what it had
    offered (`created` above the vanished id's): at-least-once, never a loop (at most
    `max_recoveries` times).
    """

    fetch: Callable[[str | None], ApiPage]
    lower_bound: int | None = None
    resume: ChainPosition | None = None
    on_odd_record: Callable[[Any], None] = lambda record: None
    max_recoveries: int = MAX_RECOVERIES
    proven: bool = False  # a resumed chain that had shown `created` going down

    def pages(self) -> Iterator[ChainPage]:
        paging = _Paging.starting(None, self.resume, self.max_recoveries)
        direction = _Direction(True, paging.boundaries[-1].created, self.proven)
        delivered_down_to: int | None = None  # while recovering: skip records above this
        while True:
            try:
                page = self.fetch(paging.after)
            except CursorVanished:
                vanished = paging.step_back()
                if vanished.created is not None:
                    delivered_down_to = (
                        vanished.created
                        if delivered_down_to is None
                        else min(vanished.created, delivered_down_to)
                    )
                direction.last = paging.boundaries[-1].created  # reading again from there
                LOGGER.warning(
                    "Completion %s, where the list was paging from, no longer exists "
                    "(deleted or expired); reading again from %s and skipping completions "
                    "already delivered.",
                    vanished.after,
                    paging.after or "the newest",
                )
                continue
            refuse_repeat(page, paging.after, paging.paged_after)
            records, reached_bound = self._select(page.records, delivered_down_to, direction)
            boundary = None if reached_bound else paging.advance(page)
            position = None
            if (
                boundary
                and boundary.created is not None
                and (delivered_down_to is None or boundary.created <= delivered_down_to)
            ):
                position = ChainPosition(boundary.after, boundary.created)
            last = reached_bound or not page.has_more
            yield ChainPage(records, position, last=last, proven=direction.proven)
            if not boundary:
                return

    def _select(
        self, items: list[Any], delivered_down_to: int | None, direction: _Direction
    ) -> tuple[list[Any], bool]:
        """The records to offer, and whether the page reached the lower bound."""
        selected = []
        for record in objects(items):
            created = record.get("created")
            if type(created) is not int:
                self.on_odd_record(record)
                selected.append(record)
                continue
            if not direction.step(created):
                raise ListedOldestFirst()
            if self.lower_bound is not None and created < self.lower_bound:
                if direction.proven:
                    return selected, True
                continue  # perhaps the oldest end of a server that ignores `order`
            if delivered_down_to is not None and created > delivered_down_to:
                continue
            selected.append(record)
        return selected, False


@dataclass
class OldestFirstFeed:
    """One oldest-first chain, from after `origin` (None: the oldest end) to the end of the list.

    It offers every record at or above `lower_bound`: what this chain or the other one already
    delivered is the meeting's to drop. When an `after` id vanishes (at the oldest end,
    retention deleting the oldest completions is the normal case) it steps back to an earlier
    page end or to the origin, which re-reads only what the meeting drops. When the origin
    itself vanishes, or a `created` going down before any went up shows that the server lists
    newest first whatever `order` says, the chain ends without a last page: the newest-first
    chain reads the rest. `alone` (the one chain of a server that lists oldest first whatever
    `order` says): a `created` going down fails the read as an unsorted list.
    """

    fetch: Callable[[str | None], ApiPage]
    origin: ChainPosition | None = None
    resume: ChainPosition | None = None
    on_odd_record: Callable[[Any], None] = lambda record: None
    max_recoveries: int = MAX_RECOVERIES
    lower_bound: int | None = None
    alone: bool = False
    on_order_ignored: Callable[[str], None] = lambda listing: warn_order_ignored(listing)

    def pages(self) -> Iterator[ChainPage]:
        paging = _Paging.starting(self.origin, self.resume, self.max_recoveries)
        # A chain alone has been answered oldest first by the other order already.
        direction = _Direction(False, paging.boundaries[-1].created, self.alone)
        while True:
            try:
                page = self.fetch(paging.after)
            except CursorVanished:
                vanished = paging.step_back()
                if not paging.boundaries:
                    LOGGER.warning(
                        "Completion %s, after which the list was read oldest first, no longer "
                        "exists; the list is read newest first alone from here.",
                        vanished.after,
                    )
                    return
                direction.last = paging.boundaries[-1].created  # reading again from there
                LOGGER.warning(
                    "Completion %s, where the list was paging from (oldest first), no longer "
                    "exists (deleted or expired); reading again from %s.",
                    vanished.after,
                    paging.after or "the oldest",
                )
                continue
            refuse_repeat(page, paging.after, paging.paged_after)
            records = []
            for record in objects(page.records):
                created = record.get("created")
                if type(created) is not int:
                    self.on_odd_record(record)
                elif not direction.step(created):
                    # A server that ignores `order` lists newest first: taking that for the
                    # other end would stop the newest-first chain with everything between unread.
                    self.on_order_ignored("desc")
                    return
                elif self.lower_bound is not None and created < self.lower_bound:
                    continue
                records.append(record)
            boundary = paging.advance(page)
            position = None
            if boundary and boundary.created is not None:
                position = ChainPosition(boundary.after, boundary.created)
            yield ChainPage(records, position, last=not page.has_more, proven=direction.proven)
            if not boundary:
                return


def objects(items: list[Any]) -> list[dict[str, Any]]:
    """The page's items, each a JSON object; anything else fails the read (never dropped)."""
    for item in items:
        if not isinstance(item, dict):
            raise _fail(
                "The API returned a list item that is not a JSON object; it cannot be "
                "delivered as a record, so the sync stopped instead of dropping it.",
                FailureType.system_error,
            )
    return items


@dataclass
class _Paging:
    """Where one chain pages from: its start, then the ends of its last pages (to step back to
    when an `after` id vanishes), every `after` it has followed (to refuse a loop), and how
    often it has stepped back."""

    boundaries: list[Boundary]
    max_recoveries: int
    recoveries: int = 0
    paged_after: set[str] = field(default_factory=set)

    @classmethod
    def starting(
        cls, start: ChainPosition | None, resume: ChainPosition | None, max_recoveries: int
    ) -> _Paging:
        """From `start` (None: the chain's end of the list), continuing after `resume`."""
        places = [start, resume] if resume else [start]
        boundaries = [
            Boundary(p.after, p.after_created) if p else Boundary(None, None) for p in places
        ]
        return cls(boundaries, max_recoveries)

    @property
    def after(self) -> str | None:
        return self.boundaries[-1].after

    def step_back(self) -> Boundary:
        """The `after` id vanished: drop its boundary and return it (the chain goes on from the
        one before, if any). Stepping back re-reads pages: at most `max_recoveries` times."""
        self.recoveries += 1
        if self.recoveries > self.max_recoveries:
            raise _fail(
                f"The list lost its place {self.recoveries} times (the completion ids it "
                "pages after were deleted while it read); the sync stopped so it "
                "can resume from its last state.",
                FailureType.transient_error,
            )
        self.paged_after.clear()
        return self.boundaries.pop()

    def advance(self, page: ApiPage) -> Boundary | None:
        """The end of `page`, now the place to page after; None at the end of the chain. The
        start and the last few ends are kept."""
        following = next_after(page, self.after, self.paged_after)
        if not following:
            return None
        self.boundaries.append(Boundary(following, _last_created(page.records)))
        del self.boundaries[1 : -REMEMBERED_BOUNDARIES or None]
        return self.boundaries[-1]


def _last_created(records: list[Any]) -> int | None:
    for record in reversed(records):
        created = record.get("created") if isinstance(record, dict) else None
        if type(created) is int:
            return created
    return None


def _fail(message: str, failure_type: FailureType) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=failure_type
    )
