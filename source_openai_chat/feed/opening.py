"""Where a read of the list starts: its lower bound, which chains run, and which part of a
saved checkpoint it continues from. Both streams read the list through `list_read`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.reader import warn_order_ignored
from source_openai_chat.feed.state import ChainPosition, Checkpoint, FeedPosition
from source_openai_chat.feed.two_ended import ListRead


@dataclass(frozen=True)
class ReadSettings:
    """What every partition's read needs from the config."""

    page_size: int
    lookback_seconds: int
    start: int | None  # `start_date` as epoch seconds
    # A sync reads from both ends, each chain a page ahead in its own thread; a check wants one
    # request, in the caller's thread.
    check: bool = False


def lower_bound(floor: int | None, settings: ReadSettings) -> int | None:
    """Where a read stops: the floor minus the lookback, and never below `start_date`, whatever
    the saved state says (a floor below it, for example after `start_date` was raised)."""
    lower = None if floor is None else floor - settings.lookback_seconds
    if settings.start is None:
        return lower
    return settings.start if lower is None else max(lower, settings.start)


def list_read(
    newest_first: Callable[[str | None], ApiPage],
    oldest_first: Callable[[str | None], ApiPage],
    position: FeedPosition,
    settings: ReadSettings,
    on_odd_record: Callable[[Any], None],
    on_order_ignored: Callable[[str], None] = warn_order_ignored,
) -> ListRead:
    """Newest first from the top (or the position's checkpoint) down to its lower bound and, in
    a sync, oldest first from where a known id marks the way, until the two meet.

    The oldest-first chain starts after the position's anchor, the newest completion the last
    finished sync delivered; on a first or full read without `start_date`, at the oldest end.
    With a `start_date` and no anchor at or above it, it does not run: it would read what lies
    below the start.
    """
    anchor = None
    two_ended = False
    if not settings.check:
        if position.floor is None:
            two_ended = settings.start is None
        elif position.anchor and (settings.start is None or position.floor >= settings.start):
            anchor = ChainPosition(position.anchor, position.floor)
            two_ended = True
    return ListRead(
        newest_first=newest_first,
        oldest_first=oldest_first,
        lower_bound=lower_bound(position.floor, settings),
        anchor=anchor,
        checkpoint=_resumable(position.checkpoint, anchor, two_ended),
        two_ended=two_ended,
        on_odd_record=on_odd_record,
        background=not settings.check,
        on_order_ignored=on_order_ignored,
    )


def _resumable(
    checkpoint: Checkpoint | None, anchor: ChainPosition | None, two_ended: bool
) -> Checkpoint | None:
    """The part of a saved checkpoint this read can continue from: the oldest-first chain's
    place (and whether the chains met) only if this read starts that chain where it started
    (a `start_date` or a full refresh may have changed it), or if it was the one chain of a
    server that lists oldest first, which always starts at the oldest end."""
    if checkpoint is None or checkpoint.listed_oldest_first:
        return checkpoint  # one chain from the oldest end, whatever this read's anchor
    if not (checkpoint.oldest_first or checkpoint.met):
        return checkpoint
    if two_ended and checkpoint.origin == (anchor.after if anchor else None):
        return checkpoint
    return checkpoint.newest_first_only()
