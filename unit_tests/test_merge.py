"""The background producers behind a two-ended read: numbered order, errors, early exit."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from source_openai_chat.feed.merge import merge_in_sequence


def numbered(numbers: list[int]) -> Iterator[int]:
    yield from numbers


def test_yields_the_items_of_every_source_in_number_order():
    evens, odds = numbered(list(range(0, 100, 2))), numbered(list(range(1, 100, 2)))

    assert list(merge_in_sequence([evens, odds], lambda n: n)) == list(range(100))


def test_an_item_that_arrives_early_waits_for_the_one_before_it():
    counter = itertools.count()
    first_taken = threading.Event()

    def slow() -> Iterator[int]:
        number = next(counter)  # 0: drawn first, handed over last
        first_taken.set()
        assert second_sent.wait(timeout=10)
        yield number

    second_sent = threading.Event()

    def fast() -> Iterator[int]:
        assert first_taken.wait(timeout=10)
        yield next(counter)  # 1
        second_sent.set()

    assert list(merge_in_sequence([slow(), fast()], lambda n: n)) == [0, 1]


def test_an_error_is_raised_after_the_items_before_it():
    def items() -> Iterator[int]:
        yield 0
        yield 1
        raise ValueError("page 3 broke")

    seen: list[int] = []
    with pytest.raises(ValueError, match="page 3 broke"):
        seen.extend(merge_in_sequence([items()], lambda n: n))

    assert seen == [0, 1]


def test_a_missing_number_fails_instead_of_waiting_forever():
    with pytest.raises(RuntimeError, match="without item 1"):
        list(merge_in_sequence([numbered([0, 2])], lambda n: n))


def test_stays_about_one_item_ahead_and_stops_when_the_consumer_leaves():
    produced = []
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            for number in range(1000):
                produced.append(number)
                yield number
        finally:
            closed.set()

    consumer = merge_in_sequence([items()], lambda n: n)
    assert next(consumer) == 0
    consumer.close()

    assert closed.wait(timeout=10)
    assert len(produced) <= 3  # the one consumed, one buffered, one waiting to be
