"""The two chains a list is read by: newest first from the top, oldest first from an anchor.

Why not the CDK's SimpleRetriever: its paginator cannot say where a read stands (the CDK
writes state only when a partition ends), cannot recover when the `after` id it pages from is
deleted (retention deletes the oldest completions, exactly where a long first sync reads), and
reads one chain of pages, so a sync takes at least pages x round trip. Each chain here yields
its pages with the place to continue after them and recovers from a vanished `after` id;
which of its records are delivered is the meeting's to say (feed/meeting.py), and both chains
run at once in feed/two_ended.py. HTTP (auth, retries, backoff) stays the CDK's requester,
behind `fetch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.feed.state import ChainPosition

LOGGER = logging.getLogger("airbyte")

MAX_RECOVERIES = 10  # vanished `after` ids per read before the sync fails (then it resumes)
REMEMBERED_BOUNDARIES = 8  # earlier page ends to step back to when an `after` id vanishes


@dataclass(frozen=True)
class Page:
    records: list[Any]
    has_more: bool
    last_id: str | None


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
    # Oldest first only: whether the chain has shown the server lists oldest first (a `created`
    # above one it saw before, or above its origin's). Until then its place cannot stop the
    # other chain: a server that ignores `order` would pass its newest page off as the oldest.
    proven: bool = True


class CursorVanished(Exception):
    """The `after` id of a request no longer exists (deleted, or expired by retention)."""


@dataclass(frozen=True)
class Boundary:
    """The end of a delivered page: `after` continues after it; `created` finds it again."""

    after: str | None  # None: the top of the list
    created: int | None


@dataclass
class NewestFirstFeed:
    """One newest-first chain, down to `lower_bound` (exclusive) or the end of the list.

    Records older than `lower_bound` end the chain and are not offered. A record without an
    integer `created` is offered (data first), reported to `on_odd_record`, and never moves the
    position. When an `after` id vanishes, the chain steps back to an earlier page end (or the
    top) and skips what it had offered (`created` above the vanished id's): at-least-once, never
    a loop (at most `max_recoveries` times).
    """

    fetch: Callable[[str | None], Page]
    lower_bound: int | None = None
    resume: ChainPosition | None = None
    on_odd_record: Callable[[Any], None] = lambda record: None
    max_recoveries: int = MAX_RECOVERIES

    def pages(self) -> Iterator[ChainPage]:
        paging = _Paging.starting(None, self.resume, self.max_recoveries)
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
                LOGGER.warning(
                    "Completion %s, where the list was paging from, no longer exists "
                    "(deleted or expired); reading again from %s and skipping completions "
                    "already delivered.",
                    vanished.after,
                    paging.after or "the newest",
                )
                continue
            records, reached_bound = self._select(page.records, delivered_down_to)
            boundary = None if reached_bound else paging.advance(page)
            position = None
            if (
                boundary
                and boundary.created is not None
                and (delivered_down_to is None or boundary.created <= delivered_down_to)
            ):
                position = ChainPosition(boundary.after, boundary.created)
            yield ChainPage(records, position, last=reached_bound or not page.has_more)
            if not boundary:
                return

    def _select(self, items: list[Any], delivered_down_to: int | None) -> tuple[list[Any], bool]:
        """The records to offer, and whether the page reached the lower bound."""
        selected = []
        for record in objects(items):
            created = record.get("created")
            if type(created) is not int:
                self.on_odd_record(record)
                selected.append(record)
                continue
            if self.lower_bound is not None and created < self.lower_bound:
                return selected, True
            if delivered_down_to is not None and created > delivered_down_to:
                continue
            selected.append(record)
        return selected, False


@dataclass
class OldestFirstFeed:
    """One oldest-first chain, from after `origin` (None: the oldest end) to the end of the list.

    It offers every record it reads: what this chain or the other one already delivered is the
    meeting's to drop. When an `after` id vanishes (at the oldest end, retention deleting the
    oldest completions is the normal case) it steps back to an earlier page end or to the
    origin, which re-reads only what the meeting drops. When the origin itself vanishes, or a
    `created` below one it read before shows that the server lists newest first whatever
    `order` says, the chain ends without a last page: the newest-first chain reads the rest.
    """

    fetch: Callable[[str | None], Page]
    origin: ChainPosition | None = None
    resume: ChainPosition | None = None
    on_odd_record: Callable[[Any], None] = lambda record: None
    max_recoveries: int = MAX_RECOVERIES

    def pages(self) -> Iterator[ChainPage]:
        paging = _Paging.starting(self.origin, self.resume, self.max_recoveries)
        highest = paging.boundaries[-1].created  # the newest `created` read so far, in order
        proven = False
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
                highest = paging.boundaries[-1].created  # reading again from there
                LOGGER.warning(
                    "Completion %s, where the list was paging from (oldest first), no longer "
                    "exists (deleted or expired); reading again from %s.",
                    vanished.after,
                    paging.after or "the oldest",
                )
                continue
            records = objects(page.records)
            for record in records:
                created = record.get("created")
                if type(created) is not int:
                    self.on_odd_record(record)
                    continue
                if highest is not None and created < highest:
                    # A server that ignores `order` lists newest first: taking that for the
                    # other end would stop the newest-first chain with everything between unread.
                    LOGGER.warning(
                        "The server listed completions newest first when asked for the oldest "
                        "first (order=asc); the list is read newest first alone."
                    )
                    return
                proven = proven or (highest is not None and created > highest)
                highest = created
            boundary = paging.advance(page)
            position = None
            if boundary and boundary.created is not None:
                position = ChainPosition(boundary.after, boundary.created)
            yield ChainPage(records, position, last=not page.has_more, proven=proven)
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

    def advance(self, page: Page) -> Boundary | None:
        """The end of `page`, now the place to page after; None at the end of the chain. The
        start and the last few ends are kept."""
        following = next_after(page, self.after, self.paged_after)
        if not following:
            return None
        self.boundaries.append(Boundary(following, _last_created(page.records)))
        del self.boundaries[1 : -REMEMBERED_BOUNDARIES or None]
        return self.boundaries[-1]


def next_after(page: Page, after: str | None, paged_after: set[str] | None = None) -> str | None:
    """The id to continue after, or None at the end; never the same page twice, and never an
    id this read has already paged after (`paged_after`, updated here): a list that leads back
    to an earlier page (A, B, A, B...) would otherwise be read forever."""
    if not page.has_more:
        return None
    if not page.records:
        LOGGER.warning(
            "The API said there were more items after %r but sent an empty one; "
            "ending this read here.",
            after,
        )
        return None
    last = page.records[-1]
    token = page.last_id or (last.get("id") if isinstance(last, dict) else None)
    if not token or token == after:
        raise _fail(
            f"The API returned the same page again (after={after!r}): paging cannot advance, "
            "so the sync stopped instead of looping.",
            FailureType.transient_error,
        )
    if paged_after is not None:
        if token in paged_after:
            raise _fail(
                f"The API led the list back to a page this sync had already read (after="
                f"{token!r}): paging would never end, so the sync stopped instead of looping.",
                FailureType.transient_error,
            )
        paged_after.add(str(token))
    return str(token)


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
