"""Each chain against an in-memory list: paging, bounds, places to resume, recovery."""

from __future__ import annotations

from typing import Any

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.reader import (
    ChainPage,
    CursorVanished,
    ListedOldestFirst,
    NewestFirstFeed,
    OldestFirstFeed,
)
from source_openai_chat.feed.state import ChainPosition
from unit_tests.fake_list import FakeList


def read_all(feed: NewestFirstFeed | OldestFirstFeed) -> tuple[list[str], list[ChainPage]]:
    pages = list(feed.pages())
    return [record["id"] for page in pages for record in page.records], pages


def test_reads_every_page_newest_first_with_a_place_after_each_but_the_last():
    api = FakeList(list(range(100, 108)))

    delivered, pages = read_all(NewestFirstFeed(api.fetch("desc")))

    assert delivered == api.ids()
    assert [page.position for page in pages] == [
        ChainPosition("c2", 105),
        ChainPosition("c5", 102),
        None,
    ]
    assert [page.last for page in pages] == [False, False, True]
    assert api.requests == [("desc", None), ("desc", "c2"), ("desc", "c5")]


def test_stops_at_the_lower_bound_without_delivering_older_records():
    api = FakeList([100, 101, 102, 103, 104, 105, 106])

    delivered, pages = read_all(NewestFirstFeed(api.fetch("desc"), lower_bound=104))

    assert delivered == ["c0", "c1", "c2"]  # 106, 105, 104
    assert len(api.requests) == 2  # the page holding 103 ends the read
    assert pages[-1].last


def test_resumes_after_its_place():
    api = FakeList(list(range(100, 108)))

    delivered, _ = read_all(NewestFirstFeed(api.fetch("desc"), resume=ChainPosition("c2", 105)))

    assert delivered == ["c3", "c4", "c5", "c6", "c7"]


def test_a_vanished_after_id_steps_back_one_page_and_skips_what_was_delivered():
    api = FakeList(list(range(100, 109)))
    api.before_request[3] = lambda api: api.delete("c5")  # the id the third request pages after

    delivered, _ = read_all(NewestFirstFeed(api.fetch("desc")))

    assert [after for _, after in api.requests] == [None, "c2", "c5", "c2", "c6"]
    assert delivered == ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"]


def test_a_vanished_place_to_resume_rescans_from_the_top_skipping_newer_records():
    api = FakeList(list(range(100, 109)))
    api.delete("c2")

    feed = NewestFirstFeed(api.fetch("desc"), resume=ChainPosition("c2", 106))
    delivered, _ = read_all(feed)

    assert [after for _, after in api.requests][:2] == ["c2", None]
    assert delivered == ["c3", "c4", "c5", "c6", "c7", "c8"]  # 105 and older, once


@pytest.mark.parametrize("chain", [NewestFirstFeed, OldestFirstFeed])
def test_ids_that_keep_vanishing_end_in_a_transient_error_not_a_loop(chain):
    def always_vanishes(after: str | None) -> ApiPage:
        if after:
            raise CursorVanished(after)
        return ApiPage([{"id": "top", "created": 5}], True, "top")

    with pytest.raises(AirbyteTracedException) as failure:
        read_all(chain(always_vanishes, max_recoveries=3))

    assert failure.value.failure_type == FailureType.transient_error
    assert "lost its place" in failure.value.message


@pytest.mark.parametrize("chain", [NewestFirstFeed, OldestFirstFeed])
def test_the_same_page_twice_fails_instead_of_looping(chain):
    def same_page(after: str | None) -> ApiPage:
        return ApiPage([{"id": "a", "created": 2}, {"id": "b", "created": 2}], True, "b")

    with pytest.raises(AirbyteTracedException, match="same page again") as failure:
        read_all(chain(same_page))

    assert failure.value.failure_type == FailureType.transient_error


@pytest.mark.parametrize("chain", [NewestFirstFeed, OldestFirstFeed])
def test_a_list_that_leads_back_to_an_earlier_page_fails_instead_of_looping(chain):
    calls = []

    def a_b_a_b(after: str | None) -> ApiPage:
        calls.append(after)
        if after in (None, "b"):  # after B the server answers page A again
            return ApiPage([{"id": "a", "created": 4}], True, "a")
        return ApiPage([{"id": "b", "created": 4}], True, "b")

    with pytest.raises(AirbyteTracedException, match="back to a page") as failure:
        read_all(chain(a_b_a_b))

    assert failure.value.failure_type == FailureType.transient_error
    assert calls == [None, "a", "b"]


@pytest.mark.parametrize("chain", [NewestFirstFeed, OldestFirstFeed])
def test_an_empty_page_claiming_more_ends_the_chain_short_of_its_end(chain):
    pages = {None: ApiPage([{"id": "a", "created": 2}], True, "a"), "a": ApiPage([], True, None)}

    delivered, read = read_all(chain(pages.__getitem__))

    assert delivered == ["a"]
    assert len(read) == 2
    # Not `last`: the chain did not reach its end, so it must not stop the other one.
    assert not read[-1].last
    assert read[-1].position is None


@pytest.mark.parametrize("created", [None, "1767225600", 1.5, True])
def test_odd_records_are_offered_reported_and_never_move_the_place(created):
    odd: dict[str, Any] = {"id": "odd", "created": created}
    seen = []
    records = [{"id": "a", "created": 10}, odd, {"id": "b", "created": 5}]

    feed = NewestFirstFeed(
        lambda after: ApiPage(records, False, "b"), lower_bound=7, on_odd_record=seen.append
    )
    delivered, _ = read_all(feed)

    assert delivered == ["a", "odd"]
    assert seen == [odd]


@pytest.mark.parametrize("chain", [NewestFirstFeed, OldestFirstFeed])
def test_a_list_item_that_is_not_an_object_fails_the_read(chain):
    with pytest.raises(AirbyteTracedException, match="not a JSON object"):
        read_all(chain(lambda after: ApiPage(["x"], False, None)))


def test_oldest_first_reads_upward_after_its_origin():
    api = FakeList(list(range(100, 108)))

    delivered, pages = read_all(OldestFirstFeed(api.fetch("asc"), ChainPosition("c5", 102)))

    assert delivered == ["c4", "c3", "c2", "c1", "c0"]  # 103 up to 107
    assert pages[0].position == ChainPosition("c2", 105)
    assert pages[0].proven  # 104 came after 103: the server lists oldest first
    assert pages[-1].last


def test_oldest_first_steps_back_when_retention_deletes_where_it_pages_from():
    api = FakeList(list(range(100, 108)))
    api.before_request[2] = lambda api: [api.delete(i) for i in ("c7", "c6", "c5")]

    delivered, _ = read_all(OldestFirstFeed(api.fetch("asc")))

    # c5 vanished: back to the oldest end, which now starts at c4 (what the chain had offered
    # again is the meeting's to drop).
    assert [after for _, after in api.requests] == [None, "c5", None, "c2"]
    assert delivered == ["c7", "c6", "c5", "c4", "c3", "c2", "c1", "c0"]


def test_oldest_first_ends_without_a_last_page_when_its_origin_vanishes():
    api = FakeList(list(range(100, 108)))
    api.delete("c3")

    delivered, pages = read_all(OldestFirstFeed(api.fetch("asc"), ChainPosition("c3", 104)))

    assert delivered == []  # the newest-first chain reads the rest alone
    assert pages == []


def test_oldest_first_ends_without_a_last_page_when_the_server_ignores_the_order():
    api = FakeList(list(range(100, 108)))

    delivered, pages = read_all(OldestFirstFeed(api.fetch("desc")))  # `order=asc` ignored

    assert delivered == []  # never claimed as the oldest end
    assert pages == []


def test_newest_first_answered_oldest_first_says_so_before_offering_anything():
    api = FakeList(list(range(100, 108)))

    with pytest.raises(ListedOldestFirst):
        read_all(NewestFirstFeed(api.fetch("asc")))  # `order=desc` ignored


def test_newest_first_reads_past_the_lower_bound_until_created_has_gone_down():
    """One record per page: the first below the bound may be a server's oldest end."""
    api = FakeList([100, 101, 102, 103], page_size=1)

    with pytest.raises(ListedOldestFirst):  # 100, then 101: oldest first
        read_all(NewestFirstFeed(api.fetch("asc"), lower_bound=102))

    delivered, pages = read_all(NewestFirstFeed(api.fetch("desc"), lower_bound=102))
    assert delivered == ["c0", "c1"]  # 103, 102; 101 went down, so it ends the read there
    assert pages[-1].last
    assert pages[-1].proven


@pytest.mark.parametrize("chain", ["desc", "asc"])
def test_created_going_back_after_going_the_chains_way_fails_as_an_unsorted_list(chain):
    api = FakeList([100, 101, 102, 103, 104, 105])
    second_page = slice(3, None) if chain == "desc" else slice(None, 3)  # the chain's own
    api.items[second_page] = api.items[second_page][::-1]  # turned around

    feed = (
        NewestFirstFeed(api.fetch(chain)) if chain == "desc" else OldestFirstFeed(api.fetch(chain))
    )
    with pytest.raises(AirbyteTracedException, match="in neither order") as failure:
        read_all(feed)

    assert failure.value.failure_type == FailureType.system_error


def test_the_one_chain_of_a_server_listing_oldest_first_skips_what_is_below_the_bound():
    api = FakeList(list(range(100, 108)))

    delivered, pages = read_all(OldestFirstFeed(api.fetch("asc"), lower_bound=104, alone=True))

    assert delivered == ["c3", "c2", "c1", "c0"]  # 104 up to 107
    assert pages[-1].last
