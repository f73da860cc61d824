"""The `chat_completions` state: versioned, with a checkpoint inside an unfinished sync.

A sync reads the list newest first, down to the previous sync's cursor (minus the lookback).
Until it reaches that floor, the only safe summary of what was delivered is "everything from
the top down to this id", which a single `created` value cannot say. So the state keeps, per
position (all models, or one model when `models` is set):

- `created`: the floor. Every completion at or above it (minus the lookback) was delivered by
  a sync that finished. This is the only key of version 1 (the CDK's `{"created": "..."}`).
- `checkpoint` (only while a sync is unfinished): `after`, the id of the last completion
  delivered, to continue the list after it; `after_created`, its `created`, to find the place
  again if that id was deleted meanwhile; `newest_created`, the highest `created` delivered,
  which becomes the floor once the sync reaches the old floor.
- `fetched` (the messages stream only): the completions of the lookback window whose messages
  were delivered, so the next sync does not request them again (see streams/fetched_window.py).

Version 2 (this one):
    {"state_version": 2, "created": "1767225600",
     "checkpoint": {"after": "chatcmpl-..", "after_created": 1767139200,
                    "newest_created": 1767312000},
     "fetched": "AAAAAGlP...",
     "models": {"gpt-4o": {"created": "...", "checkpoint": {...}}}}

`chat_completion_messages` keeps the same shape for the completions it lists; its version 1 is
the CDK's substream state (`{"parent_state": {"chat_completions": <version 1>}, ...}`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from source_openai_chat.streams.fetched_window import FetchedWindow

STATE_VERSION = 2
ALL_MODELS = ""  # the position of a sync without a `models` filter

LOGGER = logging.getLogger("airbyte")


class UnreadableState(ValueError):
    """A state this connector cannot use (for example one written by a newer version)."""


@dataclass(frozen=True)
class Checkpoint:
    after: str
    after_created: int
    newest_created: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "after": self.after,
            "after_created": self.after_created,
            "newest_created": self.newest_created,
        }

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("after"), str):
            return None
        after_created = _as_seconds(value.get("after_created"))
        if after_created is None:
            return None
        return cls(value["after"], after_created, _as_seconds(value.get("newest_created")))


@dataclass(frozen=True)
class FeedPosition:
    """Where one newest-first list stands: its floor, and a checkpoint while unfinished."""

    created: int | None = None
    checkpoint: Checkpoint | None = None
    fetched: FetchedWindow | None = None

    def finished(
        self, newest_created: int | None, fetched: FetchedWindow | None = None
    ) -> FeedPosition:
        """The position once a sync reached the floor: the newest `created` it delivered."""
        candidates = [value for value in (self.created, newest_created) if value is not None]
        return FeedPosition(created=max(candidates) if candidates else None, fetched=fetched)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created is not None:
            out["created"] = str(self.created)  # a string, as version 1 (the CDK) wrote it
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint.to_json()
        if self.fetched is not None:
            out["fetched"] = self.fetched.encode()
        return out

    @classmethod
    def from_json(cls, value: Any) -> FeedPosition:
        if not isinstance(value, Mapping):
            return cls()
        return cls(
            _as_seconds(value.get("created")),
            Checkpoint.from_json(value.get("checkpoint")),
            _as_window(value.get("fetched")),
        )


@dataclass
class FeedState:
    positions: dict[str, FeedPosition] = field(default_factory=dict)

    def position(self, key: str) -> FeedPosition:
        """A model without a position of its own starts where an unfiltered sync (which read
        every model) stopped, if there was one; otherwise from the beginning."""
        if key in self.positions:
            return self.positions[key]
        if key != ALL_MODELS and ALL_MODELS in self.positions:
            return replace(self.positions[ALL_MODELS], checkpoint=None, fetched=None)
        return FeedPosition()

    def without_floors(self) -> FeedState:
        """For a full refresh: keep the checkpoints (to resume), forget what earlier syncs read
        (their floors and the completions whose messages they fetched)."""
        return FeedState(
            {
                key: FeedPosition(checkpoint=position.checkpoint)
                for key, position in self.positions.items()
                if position.checkpoint
            }
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state_version": STATE_VERSION}
        if ALL_MODELS in self.positions:
            out.update(self.positions[ALL_MODELS].to_json())
        models = {k: v.to_json() for k, v in sorted(self.positions.items()) if k != ALL_MODELS}
        if models:
            out["models"] = models
        return out

    @classmethod
    def from_json(cls, state: Mapping[str, Any] | None) -> FeedState:
        """Read any state this connector has written, migrating older versions."""
        if not state:
            return cls()
        version = state.get("state_version")
        if version is None:
            parent = state.get("parent_state")
            if isinstance(parent, Mapping) and "chat_completions" in parent:
                # The messages stream's version 1: the CDK's substream state, whose parent
                # cursor is where the listing of its completions stopped.
                return cls._from_version_1(parent["chat_completions"] or {})
            return cls._from_version_1(state)
        if version != STATE_VERSION:
            raise UnreadableState(
                f"The saved state has version {version!r}; this connector "
                f"reads version {STATE_VERSION} and older. Reset the stream or use a newer "
                "connector version."
            )
        positions = {}
        if "created" in state or "checkpoint" in state:
            positions[ALL_MODELS] = FeedPosition.from_json(state)
        models = state.get("models")
        if isinstance(models, Mapping):
            positions.update({str(k): FeedPosition.from_json(v) for k, v in models.items()})
        return cls(positions)

    @classmethod
    def _from_version_1(cls, state: Mapping[str, Any]) -> FeedState:
        """Version 1 is what the CDK's cursor wrote: `{"created": "..."}` for all models, or its
        per-partition form `{"states": [{"partition": {"model": m}, "cursor": {...}}], "state":
        {...}}` when `models` was set."""
        positions: dict[str, FeedPosition] = {}
        if "created" in state:
            positions[ALL_MODELS] = FeedPosition(_as_seconds(state["created"]))
        for entry in state.get("states") or []:
            model = (entry.get("partition") or {}).get("model") if isinstance(entry, dict) else None
            created = _as_seconds((entry.get("cursor") or {}).get("created")) if model else None
            if model and created is not None:
                positions[str(model)] = FeedPosition(created)
        if not positions:
            LOGGER.warning(
                "The saved state has no cursor this connector knows; "
                "reading from the start date (records already synced will be delivered again)."
            )
        return cls(positions)


def _as_window(value: Any) -> FetchedWindow | None:
    """An unreadable window costs requests, never records: its completions are fetched again."""
    if not isinstance(value, str):
        return None
    try:
        return FetchedWindow.decode(value)
    except ValueError:
        LOGGER.warning("The saved list of fetched completions is unreadable; fetching them again.")
        return None


def _as_seconds(value: Any) -> int | None:
    """`created` as saved: an integer, or the string version 1 wrote."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
