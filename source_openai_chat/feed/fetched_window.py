"""Which completions of the lookback window already had their messages delivered.

Every incremental sync lists the completions of the lookback window again, to catch late
arrivals. A completion's input messages never change, so the messages stream skips those it
has delivered before. It keeps, per list position, a 64-bit hash of each such completion's id
with the completion's `created` (to forget it once it falls below the next sync's window).

Full ids (~38 bytes each) would not stay small; a 64-bit hash does, and two ids sharing a hash
(which would skip a completion's messages) take ~10^-11 odds with 10,000 ids in a window. In the
state the entries are sorted by `created` and written as a varint of the `created` step from the
previous entry plus the 8-byte hash, in base64: ~9 bytes an entry before base64, 120 KB for
10,000 completions inside the window. The first step is from 0 and a varint has no sign, so a
negative `created` (test servers and lenient compatible servers send them) is written as 0:
such an entry is kept a little longer than it needs to be, which costs nothing, and the format
stays the one earlier versions wrote and read.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable


def id_hash(completion_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(completion_id.encode(), digest_size=8).digest(), "big")


class FetchedWindow:
    """A set of (hash of a completion id -> its `created`), with a compact text form."""

    def __init__(self, entries: dict[int, int] | None = None) -> None:
        self._entries: dict[int, int] = dict(entries or {})

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FetchedWindow) and self._entries == other._entries

    def __repr__(self) -> str:
        return f"FetchedWindow({len(self._entries)} ids)"

    def contains(self, completion_id: str) -> bool:
        return id_hash(completion_id) in self._entries

    def add(self, completion_id: str, created: int) -> None:
        self._entries[id_hash(completion_id)] = created

    def copy(self) -> FetchedWindow:
        return FetchedWindow(self._entries)

    def since(self, lower_bound: int | None) -> FetchedWindow:
        """Only the completions a sync reading down to `lower_bound` will list again."""
        if lower_bound is None:
            return FetchedWindow(self._entries)
        return FetchedWindow({h: c for h, c in self._entries.items() if c >= lower_bound})

    def encode(self) -> str:
        out = bytearray()
        previous = 0
        for created, hashed in sorted((max(c, 0), h) for h, c in self._entries.items()):
            _write_varint(out, created - previous)
            out += hashed.to_bytes(8, "big")
            previous = created
        return base64.b64encode(bytes(out)).decode("ascii")

    @classmethod
    def decode(cls, text: str) -> FetchedWindow:
        """Raises ValueError on a text this module did not write."""
        data = base64.b64decode(text.encode("ascii"), validate=True)
        entries: dict[int, int] = {}
        position, created = 0, 0
        while position < len(data):
            step, position = _read_varint(data, position)
            if position + 8 > len(data):
                raise ValueError("truncated fetched-window entry")
            created += step
            entries[int.from_bytes(data[position : position + 8], "big")] = created
            position += 8
        return cls(entries)

    @classmethod
    def of(cls, completions: Iterable[tuple[str, int]]) -> FetchedWindow:
        window = cls()
        for completion_id, created in completions:
            window.add(completion_id, created)
        return window


def _write_varint(out: bytearray, value: int) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("truncated varint in fetched window")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
