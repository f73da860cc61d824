"""The background producer behind the list reader's prefetching."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from source_openai_chat.feed.read_ahead import read_ahead


def test_yields_every_item_in_order():
    assert list(read_ahead(iter(range(50)), depth=2)) == list(range(50))


def test_an_error_is_raised_after_the_items_before_it():
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 broke")

    seen: list[int] = []
    with pytest.raises(ValueError, match="page 3 broke"):
        seen.extend(read_ahead(items()))

    assert seen == [1, 2]


def test_stays_at_most_depth_items_ahead_and_stops_when_the_consumer_leaves():
    produced = []
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            for number in range(1000):
                produced.append(number)
                yield number
        finally:
            closed.set()

    consumer = read_ahead(items(), depth=1)
    assert next(consumer) == 0
    consumer.close()

    assert closed.wait(timeout=10)
    assert len(produced) <= 3  # the one consumed, one buffered, one waiting to be
