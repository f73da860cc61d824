"""The `chat_completions` state: versioned, with a checkpoint inside an unfinished sync.

The format, every key and every version that is still read, is specified in docs/state.md:
per list position (all models, or one model) the floor (`created`), the `anchor` the next sync
reads upward after, a `checkpoint` while a sync is unfinished (each chain's place and proof,
whether they met, the newest completion delivered) and, for the messages stream, `fetched`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from source_openai_chat.feed.fetched_window import FetchedWindow

STATE_VERSION = 3
READABLE_VERSIONS = (2, 3)
ALL_MODELS = ""  # the position of a sync without a `models` filter

LOGGER = logging.getLogger("airbyte")


class UnreadableState(ValueError):
    """A state this connector cannot use (for example one written by a newer version)."""


@dataclass(frozen=True)
class ChainPosition:
    """A place in one chain: continue after `after`; `after_created` finds the place again."""

    after: str
    after_created: int

    def to_json(self) -> dict[str, Any]:
        return {"after": self.after, "after_created": self.after_created}

    @classmethod
    def from_json(cls, value: Any) -> ChainPosition | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("after"), str):
            return None
        after_created = _as_seconds(value.get("after_created"))
        return None if after_created is None else cls(value["after"], after_created)


@dataclass(frozen=True)
class Checkpoint:
    """Where an unfinished sync stands: each chain's position (None: it delivered nothing yet),
    whether the chains met, and the newest completion delivered so far."""

    newest_first: ChainPosition | None = None
    oldest_first: ChainPosition | None = None
    origin: str | None = None  # the anchor the oldest-first chain started after; None: oldest end
    met: bool = False
    newest_created: int | None = None
    newest_id: str | None = None
    oldest_first_proven: bool = False  # the server was seen listing oldest first (feed/reader.py)
    newest_first_proven: bool = False  # ... and newest first when asked
    # The server listed oldest first when asked for newest first: the read is one chain, oldest
    # first from the oldest end, and `oldest_first` is its place.
    listed_oldest_first: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = self.newest_first.to_json() if self.newest_first else {}
        if self.newest_first and self.newest_first_proven:
            out["proven"] = True
        if self.listed_oldest_first:
            out["listed_oldest_first"] = True
        if self.oldest_first:
            out["ascending"] = self.oldest_first.to_json()
            if self.oldest_first_proven:
                out["ascending"]["proven"] = True
        if self.oldest_first or self.met:
            out["origin"] = self.origin
        if self.met:
            out["met"] = True
        out["newest_created"] = self.newest_created
        if self.newest_id is not None:
            out["newest_id"] = self.newest_id
        return out

    def newest_first_only(self) -> Checkpoint | None:
        """The newest-first chain's place alone (None without one), for a read that starts the
        other chain elsewhere or not at all."""
        if self.newest_first is None:
            return None
        return Checkpoint(
            self.newest_first,
            newest_created=self.newest_created,
            newest_first_proven=self.newest_first_proven,
        )

    @classmethod
    def from_json(cls, value: Any) -> Checkpoint | None:
        """Version 2's checkpoint is version 3's with the newest-first chain only."""
        if not isinstance(value, Mapping):
            return None
        origin = value.get("origin")
        oldest_first = value.get("ascending")
        checkpoint = cls(
            newest_first=ChainPosition.from_json(value),
            oldest_first=ChainPosition.from_json(value.get("ascending")),
            origin=origin if isinstance(origin, str) else None,
            met=value.get("met") is True,
            newest_created=_as_seconds(value.get("newest_created")),
            newest_id=value.get("newest_id") if isinstance(value.get("newest_id"), str) else None,
            oldest_first_proven=isinstance(oldest_first, Mapping)
            and oldest_first.get("proven") is True,
            newest_first_proven=value.get("proven") is True,
            listed_oldest_first=value.get("listed_oldest_first") is True,
        )
        if (
            checkpoint.newest_first is None
            and checkpoint.oldest_first is None
            and not checkpoint.met
        ):
            return None
        return checkpoint


@dataclass(frozen=True)
class FeedPosition:
    """Where one list stands: its floor and anchor, and a checkpoint while unfinished."""

    floor: int | None = None  # the newest `created` a finished sync delivered
    checkpoint: Checkpoint | None = None
    fetched: FetchedWindow | None = None
    anchor: str | None = None

    def finished(
        self,
        newest_created: int | None,
        newest_id: str | None = None,
        fetched: FetchedWindow | None = None,
    ) -> FeedPosition:
        """The position once a sync finished: the newest completion it delivered becomes the
        floor and the anchor (unless the old floor is newer)."""
        if newest_created is None or (self.floor is not None and newest_created < self.floor):
            return FeedPosition(floor=self.floor, fetched=fetched, anchor=self.anchor)
        if newest_id is None and newest_created == self.floor:
            newest_id = self.anchor  # the same second: the old anchor is as good
        return FeedPosition(floor=newest_created, fetched=fetched, anchor=newest_id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.floor is not None:
            out["created"] = str(self.floor)  # a string, as version 1 (the CDK) wrote it
        if self.anchor is not None:
            out["anchor"] = self.anchor
        if self.checkpoint is not None:
            out["checkpoint"] = self.checkpoint.to_json()
        if self.fetched is not None:
            out["fetched"] = self.fetched.encode()
        return out

    @classmethod
    def from_json(cls, value: Any) -> FeedPosition:
        if not isinstance(value, Mapping):
            return cls()
        floor = _as_seconds(value.get("created"))
        anchor = value.get("anchor")
        return cls(
            floor,
            Checkpoint.from_json(value.get("checkpoint")),
            _as_window(value.get("fetched")),
            anchor if isinstance(anchor, str) and floor is not None else None,
        )


@dataclass
class FeedState:
    """A stream's positions: by model (ALL_MODELS without a `models` filter) and, for a
    connection of several projects, by project (`projects`, each a FeedState of its own)."""

    positions: dict[str, FeedPosition] = field(default_factory=dict)
    projects: dict[str, FeedState] = field(default_factory=dict)

    def of_project(self, project: str | None) -> FeedState:
        """The state of one of several projects; None: the connection's one project, whose
        positions stay at the top level as every version before 1.3.0 wrote them."""
        if project is None:
            return self
        return self.projects.setdefault(project, FeedState())

    def position(self, key: str) -> FeedPosition:
        """A model without a position of its own starts where an unfiltered sync (which read
        every model) stopped, if there was one; otherwise from the beginning."""
        if key in self.positions:
            return self.positions[key]
        if key != ALL_MODELS and ALL_MODELS in self.positions:
            # Not the anchor: it may be another model's completion, and whether the API pages
            # a model filter after a completion outside it is not documented.
            return replace(self.positions[ALL_MODELS], checkpoint=None, fetched=None, anchor=None)
        return FeedPosition()

    def without_floors(self) -> FeedState:
        """For a full refresh: keep where an unfinished sync stood (to resume), forget what
        earlier syncs read (their floors, anchors and the completions whose messages they
        fetched). A read that had a floor read upward from its anchor: only its newest-first
        chain carries over (the oldest-first chain of a full refresh starts at the oldest end)."""
        positions = {}
        for key, position in self.positions.items():
            checkpoint = position.checkpoint
            if checkpoint and position.floor is not None:
                checkpoint = checkpoint.newest_first_only()
            if checkpoint:
                positions[key] = FeedPosition(checkpoint=checkpoint)
        projects = {key: project.without_floors() for key, project in self.projects.items()}
        return FeedState(positions, projects)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state_version": STATE_VERSION}
        if ALL_MODELS in self.positions:
            out.update(self.positions[ALL_MODELS].to_json())
        models = {k: v.to_json() for k, v in sorted(self.positions.items()) if k != ALL_MODELS}
        if models:
            out["models"] = models
        projects = {key: project.to_json() for key, project in sorted(self.projects.items())}
        if projects:
            out["projects"] = {
                key: {k: v for k, v in value.items() if k != "state_version"}
                for key, value in projects.items()
            }
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
        if version not in READABLE_VERSIONS:
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
        projects = state.get("projects")
        if not isinstance(projects, Mapping):
            return cls(positions)
        return cls(
            positions,
            {
                str(key): cls.from_json({**value, "state_version": version})
                for key, value in projects.items()
                if isinstance(value, Mapping)
            },
        )

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
