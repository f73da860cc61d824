"""Run iterators in background threads and yield their items in one numbered order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()


@dataclass(frozen=True)
class _Raised:
    error: BaseException


def merge_in_sequence(
    sources: Sequence[Iterator[T]], number: Callable[[T], int], first: int = 0
) -> Iterator[T]:
    """Yield the items of every source in the order of `number(item)` (first, first + 1, ...),
    each source produced by its own thread at most about one item ahead of the consumer.

    The numbers must be consecutive across all sources, as the sources draw them from one
    counter; an item that arrives early waits for the ones before it. Errors raised while
    producing are raised here at once. When the consumer stops early, the producers stop at
    their next item and close their sources (so their `finally` blocks run).
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=len(sources))
    stopped = threading.Event()

    def put(item: Any) -> bool:
        while not stopped.is_set():
            try:
                buffer.put(item, timeout=0.2)  # wakes up to notice a consumer that left
                return True
            except queue.Full:
                continue
        return False

    def produce(items: Iterator[T]) -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            put(_Raised(error))
        finally:
            close = getattr(items, "close", None)
            if close:
                close()

    for index, items in enumerate(sources):
        name = f"list-chain-{index}"
        threading.Thread(target=produce, args=(items,), name=name, daemon=True).start()
    early: dict[int, T] = {}
    expected = first
    running = len(sources)
    try:
        while True:
            while expected in early:
                yield early.pop(expected)
                expected += 1
            if not running:
                if early:
                    raise RuntimeError(f"items {sorted(early)} arrived without item {expected}")
                return
            item = buffer.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, _Raised):
                raise item.error
            else:
                early[number(item)] = item
    finally:
        stopped.set()
