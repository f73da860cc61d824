"""One read of the list from both ends at once: the chains, their threads, the delivery order.

The list pages only by `after`, so one chain of requests takes pages x round trip whatever its
CPU does. Here the newest-first chain and the oldest-first chain (from the anchor, or the
oldest end) each run in a thread one page ahead of delivery, claim their records through the
meeting (feed/meeting.py), and the partition receives the pages in claim order.

A server that ignores `order` and lists oldest first answers the newest-first chain from the
oldest end: that chain then goes on as the read's one chain, oldest first from the oldest end
to the end of the list (every sync: without a newest-first order there is no other way to
reach the lookback window), and the oldest-first chain stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.fetched_window import FetchedWindow
from source_openai_chat.feed.meeting import ClaimedPage, Meeting, Next
from source_openai_chat.feed.merge import merge_in_sequence
from source_openai_chat.feed.reader import (
    ListedOldestFirst,
    NewestFirstFeed,
    OldestFirstFeed,
    warn_order_ignored,
)
from source_openai_chat.feed.state import ChainPosition, Checkpoint, FeedPosition


@dataclass
class ListRead:
    """Reads one list position: newest first down to `lower_bound`, and, when `two_ended`,
    oldest first from after `anchor` (None: the oldest end) until the chains meet.

    `background` runs the chains in threads, a page ahead of delivery; without it (`check`)
    the newest-first chain runs in the caller's thread, a request at a time.
    """

    newest_first: Callable[[str | None], ApiPage]
    oldest_first: Callable[[str | None], ApiPage]
    lower_bound: int | None
    anchor: ChainPosition | None
    checkpoint: Checkpoint | None
    two_ended: bool
    on_odd_record: Callable[[Any], None]
    background: bool = True
    # Told "asc" or "desc" when the server lists in that order whatever `order` says.
    on_order_ignored: Callable[[str], None] = warn_order_ignored

    def __post_init__(self) -> None:
        self.meeting = Meeting(self.checkpoint, self.anchor, self.two_ended)

    def finished(
        self, position: FeedPosition, fetched: FetchedWindow | None = None
    ) -> FeedPosition:
        """`position` once this read is over: the newest completion it delivered becomes the
        floor and the anchor."""
        return position.finished(self.meeting.newest_created, self.meeting.newest_id, fetched)

    def pages(self) -> Iterator[ClaimedPage]:
        if self.meeting.finished:
            return iter(())
        if not self.background:
            return self.newest_first_pages()
        chains = [self.newest_first_pages()]
        if self.two_ended and not self.meeting.met and not self.meeting.alone:
            chains.append(self.oldest_first_pages())
        return merge_in_sequence(chains, lambda page: page.sequence)

    def newest_first_pages(self) -> Iterator[ClaimedPage]:
        """The newest-first chain's claimed pages (`pages()` runs each chain in a thread), or
        those of the one oldest-first chain that replaces it on a server listing oldest first."""
        if not self.meeting.alone:
            resume = self.checkpoint.newest_first if self.checkpoint else None
            try:
                following = yield from self._descend(resume)
                if following is Next.JUMP:
                    yield from self._descend(self.anchor)
                return
            except ListedOldestFirst:
                self.on_order_ignored("asc")
                self.meeting.read_oldest_first_alone()
        yield from self._oldest_first_alone()

    def _oldest_first_alone(self) -> Iterator[ClaimedPage]:
        """The one chain of a server that lists oldest first whatever `order` says: from the
        oldest end (or its saved place) to the end of the list, above the lower bound."""
        feed = OldestFirstFeed(
            self.oldest_first,
            resume=self.meeting.checkpoint.oldest_first,  # None: from the oldest end
            on_odd_record=self.on_odd_record,
            lower_bound=self.lower_bound,
            alone=True,
        )
        pages = feed.pages()
        try:
            for page in pages:
                claimed = self.meeting.claim_oldest_first(page, alone=True)
                yield claimed
                if claimed.next is Next.STOP:
                    return
        finally:
            pages.close()

    def _descend(self, resume: ChainPosition | None) -> Iterator[ClaimedPage]:
        """Newest first after `resume` until the meeting says to stop or to jump."""
        feed = NewestFirstFeed(
            self.newest_first,
            self.lower_bound,
            resume,
            on_odd_record=self.on_odd_record,
            proven=self.meeting.newest_first_proven,
        )
        pages = feed.pages()
        try:
            while (following := self.meeting.newest_first_next()) is Next.CONTINUE:
                page = next(pages, None)
                if page is None:
                    return Next.STOP
                claimed = self.meeting.claim_newest_first(page)
                yield claimed
                if claimed.next is not Next.CONTINUE:
                    return claimed.next
            return following
        finally:
            pages.close()

    def oldest_first_pages(self) -> Iterator[ClaimedPage]:
        """The oldest-first chain's claimed pages."""
        resume = self.checkpoint.oldest_first if self.checkpoint else None
        feed = OldestFirstFeed(
            self.oldest_first,
            self.anchor,
            resume,
            on_odd_record=self.on_odd_record,
            on_order_ignored=self.on_order_ignored,
        )
        pages = feed.pages()
        try:
            while not self.meeting.met and not self.meeting.alone:
                page = next(pages, None)
                if page is None:
                    return
                claimed = self.meeting.claim_oldest_first(page)
                yield claimed
                if claimed.next is Next.STOP:
                    return
        finally:
            pages.close()
