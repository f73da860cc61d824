"""Run an iterator in a background thread, a bounded number of items ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_DONE = object()


@dataclass(frozen=True)
class _Raised:
    error: BaseException


def read_ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield `items`, produced by a background thread that stays `depth` items ahead.

    Errors raised while producing are raised here, in order. When the consumer stops early,
    the producer stops at its next item and closes `items` (so its `finally` blocks run).
    """
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stopped = threading.Event()

    def put(item: Any) -> bool:
        while not stopped.is_set():
            try:
                buffer.put(item, timeout=0.2)  # wakes up to notice a consumer that left
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
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

    threading.Thread(target=produce, name="read-ahead", daemon=True).start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stopped.set()
