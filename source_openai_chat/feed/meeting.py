"""Where the two chains of a list read meet: which records each delivers, and the checkpoint.

The newest-first chain delivers the list from the top down; the oldest-first chain from its
origin (the anchor, or the oldest end) up. Each has a frontier: the `created` second it has
reached and the ids it delivered in that second. A record the other chain's frontier already
covers means the chains crossed: together they delivered everything between their starts, and
both stop (with an anchor, the newest-first chain then goes on below it, down to the lower
bound: the lookback window). The order of completions created in the same second is not
documented, so within the meeting second records are compared by id, never by position.

Claims are made under one lock and numbered: pages are delivered in that order, so a saved
checkpoint never covers a record the other chain skipped because this one claimed it first.

A chain's place stops the other chain only once the chain has shown that the server lists in
the order it asked for (`proven`, feed/reader.py): a server that ignores `order` lists both
chains' pages in one order, and taking one end for the other would stop a read with the
middle unread. When the newest-first chain is answered oldest first, the read goes on as one
chain, oldest first from the oldest end (`read_oldest_first_alone`).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from source_openai_chat.feed.reader import ChainPage
from source_openai_chat.feed.state import ChainPosition, Checkpoint

NEWEST_FIRST = "newest_first"
OLDEST_FIRST = "oldest_first"


class Next(enum.Enum):
    CONTINUE = "continue"
    JUMP = "jump"  # the newest-first chain goes on after the anchor (below the meeting)
    STOP = "stop"


@dataclass(frozen=True)
class ClaimedPage:
    """Records one chain delivers, in delivery order, and the checkpoint true once they are."""

    records: list[dict[str, Any]]
    chain: str  # NEWEST_FIRST or OLDEST_FIRST
    before: Checkpoint
    after: Checkpoint
    sequence: int
    next: Next
    within_allowed: bool  # whether a record inside the page is a place to resume after

    def within(self, record: dict[str, Any]) -> Checkpoint | None:
        """The checkpoint true once this page is delivered up to `record` (inclusive)."""
        created, completion_id = record.get("created"), record.get("id")
        if not (self.within_allowed and type(created) is int and isinstance(completion_id, str)):
            return None
        return replace(
            self.before,
            newest_created=self.after.newest_created,
            newest_id=self.after.newest_id,
            **{self.chain: ChainPosition(completion_id, created)},
        )


@dataclass
class _Frontier:
    """The `created` second a chain has reached, and the ids it delivered in that second."""

    created: int | None = None
    ids: set[str] = field(default_factory=set)

    def covers_id(self, created: int, completion_id: str) -> bool:
        return created == self.created and completion_id in self.ids

    def advance(self, created: int, completion_id: str) -> None:
        if created != self.created:
            self.created, self.ids = created, set()
        self.ids.add(completion_id)

    @classmethod
    def at(cls, position: ChainPosition | None) -> _Frontier:
        return cls(position.after_created, {position.after}) if position else cls()


class Meeting:
    """The frontiers of one list read's two chains (or of its newest-first chain alone)."""

    def __init__(
        self,
        checkpoint: Checkpoint | None,
        anchor: ChainPosition | None,
        two_ended: bool,
    ) -> None:
        checkpoint = checkpoint or Checkpoint(origin=anchor.after if anchor else None)
        self._lock = threading.Lock()
        self._two_ended = two_ended
        # A read gone alone (see `read_oldest_first_alone`) reads from the oldest end, never
        # from an anchor.
        self._anchor = anchor if two_ended and not checkpoint.listed_oldest_first else None
        self._saved = checkpoint
        self._sequence = 0
        self.met = checkpoint.met and two_ended
        self._newest_first = _Frontier.at(checkpoint.newest_first)
        self._oldest_first = (
            _Frontier.at(checkpoint.oldest_first or self._anchor) if two_ended else _Frontier()
        )
        # Whether the newest-first chain reads below the anchor, everything above it delivered.
        self._below_anchor = self._anchor is not None and (
            self.met or _at_or_below(checkpoint.newest_first, self._anchor)
        )
        self._odd_ids: set[Any] = set()
        # Whether each chain has shown that the server lists in the order it asked for: until
        # then its place stops neither chain (see reader.ChainPage.proven).
        self._oldest_first_proven = checkpoint.oldest_first_proven
        self._newest_first_proven = checkpoint.newest_first_proven
        # The server lists oldest first whatever `order` says: one chain reads from the oldest
        # end, claiming through `claim_oldest_first(page, alone=True)`.
        self.alone = checkpoint.listed_oldest_first

    @property
    def newest_created(self) -> int | None:
        return self._saved.newest_created

    @property
    def newest_id(self) -> str | None:
        return self._saved.newest_id

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint as the last claim left it."""
        with self._lock:
            return self._saved

    @property
    def newest_first_proven(self) -> bool:
        return self._newest_first_proven

    def read_oldest_first_alone(self) -> None:
        """The newest-first chain was answered oldest first: from here the read is one chain,
        oldest first from the oldest end to the end of the list, and the oldest-first chain,
        if running, claims nothing more. What was delivered so far stays delivered; the one
        chain may deliver some of it again."""
        with self._lock:
            self.alone = True
            self.met = False
            self._anchor = None
            self._two_ended = True  # the one chain's place is the checkpoint's oldest-first place
            self._newest_first, self._oldest_first = _Frontier(), _Frontier()
            self._oldest_first_proven = self._newest_first_proven = False
            self._saved = Checkpoint(
                listed_oldest_first=True,
                newest_created=self._saved.newest_created,
                newest_id=self._saved.newest_id,
            )

    @property
    def finished(self) -> bool:
        """Nothing is left to read: the chains met and there is no anchor to read below."""
        return self.met and self._anchor is None

    def newest_first_next(self) -> Next:
        """Before the newest-first chain requests a page: once the chains have met, what lies
        between it and the anchor is delivered."""
        with self._lock:
            if not self.met or self._below_anchor:
                return Next.CONTINUE
            if self._anchor is None:
                return Next.STOP
            self._below_anchor = True
            return Next.JUMP

    def claim_newest_first(self, page: ChainPage) -> ClaimedPage:
        with self._lock:
            # A page is only yielded if every `created` in it agrees with the proof at its end.
            self._newest_first_proven = self._newest_first_proven or page.proven
            delivered: list[dict[str, Any]] = []
            following = Next.CONTINUE
            records = iter(page.records)
            for record in records:
                created, completion_id = record.get("created"), record.get("id")
                if type(created) is not int:
                    self._deliver_odd(record, delivered)
                    continue
                if (
                    self._anchor
                    and not self._below_anchor
                    and self._newest_first_proven
                    and _is_anchor_or_older(created, completion_id, self._anchor)
                ):
                    self._below_anchor = self.met = True  # everything above it is delivered
                if self._oldest_first.covers_id(created, completion_id):
                    continue  # the oldest-first chain delivered it (or it is the anchor)
                if self._crossed(created):
                    # The oldest-first chain delivered everything from its origin up to here.
                    self.met = True
                    if self._anchor is None:
                        following = Next.STOP
                        break
                    self._below_anchor = True
                    if not _skip_past(records, self._anchor.after):
                        following = Next.JUMP  # the anchor is not on this page: go to it
                        break
                    continue  # the rest of the page lies below the anchor
                self._newest_first.advance(created, completion_id)
                delivered.append(record)
            if following is Next.CONTINUE and page.last:
                self.met = self._two_ended
                following = Next.STOP
            position = page.position if following is Next.CONTINUE else None
            if following is Next.JUMP:
                position = self._anchor
            return self._page(NEWEST_FIRST, delivered, position, following)

    def _crossed(self, created: int) -> bool:
        """Whether a newest-first record above the anchor lies in what the oldest-first chain
        delivered (below its frontier's second)."""
        return (
            self._two_ended
            and self._oldest_first_proven
            and self._newest_first_proven
            and not self._below_anchor
            and self._oldest_first.created is not None
            and created < self._oldest_first.created
        )

    def claim_oldest_first(self, page: ChainPage, alone: bool = False) -> ClaimedPage:
        """A page of the oldest-first chain, or (`alone`) of the one chain of a read that the
        server answers oldest first whatever `order` says."""
        with self._lock:
            if self.alone and not alone:  # the oldest-first chain after the read went alone
                return self._page(OLDEST_FIRST, [], None, Next.STOP)
            self._oldest_first_proven = self._oldest_first_proven or page.proven
            delivered: list[dict[str, Any]] = []
            following = Next.STOP if self.met else Next.CONTINUE
            for record in page.records if following is Next.CONTINUE else []:
                created, completion_id = record.get("created"), record.get("id")
                if type(created) is not int:
                    self._deliver_odd(record, delivered)
                    continue
                own = self._oldest_first
                if own.created is not None and (
                    created < own.created or own.covers_id(created, completion_id)
                ):
                    continue  # delivered before this chain stepped back (or the anchor)
                other = self._newest_first
                if (
                    self._newest_first_proven
                    and other.created is not None
                    and created > other.created
                ):
                    # The newest-first chain delivered everything above (once this chain is
                    # proven to read oldest first, the chains met; before, it just stops).
                    self.met = self._oldest_first_proven
                    following = Next.STOP
                    break
                if other.covers_id(created, completion_id):
                    continue
                own.advance(created, completion_id)
                delivered.append(record)
            if following is Next.CONTINUE and page.last:
                self.met = self._oldest_first_proven or self.alone
                following = Next.STOP
            position = page.position
            saved = self._saved.oldest_first
            if position is None or (saved and position.after_created < saved.after_created):
                position = saved  # a chain that stepped back resumes from its furthest place
            return self._page(OLDEST_FIRST, delivered, position, following)

    def _page(
        self,
        chain: str,
        records: list[dict[str, Any]],
        position: ChainPosition | None,
        following: Next,
    ) -> ClaimedPage:
        """Number the claim and move the checkpoint (called under the lock)."""
        before = self._saved
        positions = {NEWEST_FIRST: before.newest_first, OLDEST_FIRST: before.oldest_first}
        if position is not None:
            positions[chain] = position
        if self.met and self._anchor and not self._below_anchor:
            positions[NEWEST_FIRST] = self._anchor  # a resumed sync goes on below the anchor
        newest = self._newest_in(records)
        after = Checkpoint(
            newest_first=positions[NEWEST_FIRST],
            oldest_first=positions[OLDEST_FIRST] if self._two_ended else None,
            origin=self._anchor.after if self._anchor else None,
            met=self.met,
            newest_created=newest[0],
            newest_id=newest[1],
            oldest_first_proven=self._oldest_first_proven and self._two_ended,
            newest_first_proven=self._newest_first_proven,
            listed_oldest_first=self.alone,
        )
        self._saved = after
        self._sequence += 1
        within_allowed = (
            position is not None
            and positions[chain] is position
            and following is Next.CONTINUE
            and after.met == before.met
        )
        sequence = self._sequence - 1
        return ClaimedPage(records, chain, before, after, sequence, following, within_allowed)

    def _newest_in(self, records: list[dict[str, Any]]) -> tuple[int | None, str | None]:
        newest = (self._saved.newest_created, self._saved.newest_id)
        for record in records:
            created = record.get("created")
            if type(created) is int and (newest[0] is None or created > newest[0]):
                newest = (created, record.get("id"))
        return newest

    def _deliver_odd(self, record: dict[str, Any], delivered: list[dict[str, Any]]) -> None:
        """A record without an integer `created` cannot be placed: whichever chain sees it first
        delivers it."""
        key = record.get("id")
        if key is None or not isinstance(key, (str, int)):
            delivered.append(record)
            return
        if key not in self._odd_ids:
            self._odd_ids.add(key)
            delivered.append(record)


def _skip_past(records: Iterator[dict[str, Any]], completion_id: str) -> bool:
    """Advance `records` past `completion_id`; False if it is not among them."""
    return any(record.get("id") == completion_id for record in records)


def _at_or_below(position: ChainPosition | None, anchor: ChainPosition) -> bool:
    """Whether a newest-first position is the anchor or past it (older)."""
    return position is not None and _is_anchor_or_older(
        position.after_created, position.after, anchor
    )


def _is_anchor_or_older(created: int, completion_id: Any, anchor: ChainPosition) -> bool:
    return completion_id == anchor.after or created < anchor.after_created
