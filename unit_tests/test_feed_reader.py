"""The newest-first reader against an in-memory list: paging, bounds, checkpoints, recovery."""

from __future__ import annotations

from typing import Any

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.feed.reader import CursorVanished, NewestFirstFeed, Page
from source_openai_chat.feed.state import Checkpoint


class FakeList:
    """The API's list, newest first, paged by `after`; ids can be deleted between requests."""

    def __init__(self, created: list[int], page_size: int = 3) -> None:
        self.items = [{"id": f"c{i}", "created": c} for i, c in enumerate(sorted(created)[::-1])]
        self.page_size = page_size
        self.requests: list[str | None] = []
        self.delete_on_request: dict[int, str] = {}  # request number -> id deleted just before

    def fetch(self, after: str | None) -> Page:
        self.requests.append(after)
        doomed = self.delete_on_request.pop(len(self.requests), None)
        if doomed:
            self.items = [item for item in self.items if item["id"] != doomed]
        start = 0
        if after is not None:
            positions = [i for i, item in enumerate(self.items) if item["id"] == after]
            if not positions:
                raise CursorVanished(after)
            start = positions[0] + 1
        data = self.items[start : start + self.page_size]
        has_more = start + self.page_size < len(self.items)
        return Page(data, has_more, data[-1]["id"] if data else None)


def read_all(feed: NewestFirstFeed) -> tuple[list[str], list[Checkpoint | None]]:
    delivered, checkpoints = [], []
    for records, checkpoint in feed.pages():
        delivered += [record["id"] for record in records]
        checkpoints.append(checkpoint)
    return delivered, checkpoints


@pytest.mark.parametrize("prefetch", [True, False])
def test_reads_every_page_newest_first_with_a_checkpoint_after_each_but_the_last(prefetch):
    api = FakeList(list(range(100, 108)))

    feed = NewestFirstFeed(api.fetch, prefetch=prefetch)
    delivered, checkpoints = read_all(feed)

    assert delivered == [item["id"] for item in api.items]
    assert checkpoints == [Checkpoint("c2", 105, 107), Checkpoint("c5", 102, 107), None]
    assert api.requests == [None, "c2", "c5"]
    assert feed.newest_created == 107


def test_stops_at_the_lower_bound_without_delivering_older_records():
    api = FakeList([100, 101, 102, 103, 104, 105, 106])

    delivered, _ = read_all(NewestFirstFeed(api.fetch, lower_bound=104))

    assert delivered == ["c0", "c1", "c2"]  # 106, 105, 104
    assert api.requests == [None, "c2"]  # the page holding 103 ends the read


def test_resumes_after_the_checkpoint_and_keeps_its_newest_created():
    api = FakeList(list(range(100, 108)))

    feed = NewestFirstFeed(api.fetch, resume=Checkpoint("c2", 105, 107))
    delivered, _ = read_all(feed)

    assert delivered == ["c3", "c4", "c5", "c6", "c7"]
    assert feed.newest_created == 107


def test_a_vanished_after_id_steps_back_one_page_and_skips_what_was_delivered():
    api = FakeList(list(range(100, 109)))
    api.delete_on_request[3] = "c5"  # the id the third request pages after

    delivered, _ = read_all(NewestFirstFeed(api.fetch, prefetch=False))

    assert api.requests == [None, "c2", "c5", "c2", "c6"]
    assert delivered == ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]


def test_a_vanished_checkpoint_id_rescans_from_the_top_skipping_newer_records():
    api = FakeList(list(range(100, 109)))
    api.items = [item for item in api.items if item["id"] != "c2"]

    delivered, _ = read_all(NewestFirstFeed(api.fetch, resume=Checkpoint("c2", 106, 108)))

    assert api.requests[:2] == ["c2", None]
    assert delivered == ["c3", "c4", "c5", "c6", "c7", "c8"]  # 105 and older, once


def test_ids_that_keep_vanishing_end_in_a_transient_error_not_a_loop():
    def always_vanishes(after: str | None) -> Page:
        if after:
            raise CursorVanished(after)
        return Page([{"id": "top", "created": 5}], True, "top")

    with pytest.raises(AirbyteTracedException) as failure:
        read_all(NewestFirstFeed(always_vanishes, max_recoveries=3))

    assert failure.value.failure_type == FailureType.transient_error
    assert "lost its place" in failure.value.message


def test_the_same_page_twice_fails_instead_of_looping():
    def same_page(after: str | None) -> Page:
        return Page([{"id": "a", "created": 2}, {"id": "b", "created": 1}], True, "b")

    with pytest.raises(AirbyteTracedException, match="same page again") as failure:
        read_all(NewestFirstFeed(same_page, prefetch=False))

    assert failure.value.failure_type == FailureType.transient_error


def test_a_list_that_leads_back_to_an_earlier_page_fails_instead_of_looping():
    calls = []

    def a_b_a_b(after: str | None) -> Page:
        calls.append(after)
        if after in (None, "b"):  # after B the server answers page A again
            return Page([{"id": "a", "created": 4}], True, "a")
        return Page([{"id": "b", "created": 3}], True, "b")

    with pytest.raises(AirbyteTracedException, match="back to a page") as failure:
        read_all(NewestFirstFeed(a_b_a_b, prefetch=False))

    assert failure.value.failure_type == FailureType.transient_error
    assert calls == [None, "a", "b"]


def test_an_empty_page_claiming_more_ends_the_read():
    pages = {None: Page([{"id": "a", "created": 2}], True, "a"), "a": Page([], True, None)}

    delivered, checkpoints = read_all(NewestFirstFeed(pages.__getitem__))

    assert delivered == ["a"]
    assert checkpoints[-1] is None


@pytest.mark.parametrize("created", [None, "1767225600", 1.5, True])
def test_odd_records_are_delivered_reported_and_never_move_the_cursor(created):
    odd: dict[str, Any] = {"id": "odd", "created": created}
    seen = []
    records = [{"id": "a", "created": 10}, odd, {"id": "b", "created": 5}]

    feed = NewestFirstFeed(
        lambda after: Page(records, False, "b"), lower_bound=7, on_odd_record=seen.append
    )
    delivered, _ = read_all(feed)

    assert delivered == ["a", "odd"]
    assert seen == [odd]
    assert feed.newest_created == 10


def test_a_list_item_that_is_not_an_object_fails_the_read():
    with pytest.raises(AirbyteTracedException, match="not a JSON object"):
        read_all(NewestFirstFeed(lambda after: Page(["x"], False, None)))
