"""The two-ended read against an in-memory list: exactly once, ties, changes, resume, requests.

The chains run either in their threads (`pages()`) or interleaved in one thread in an order
drawn from a seed, so every test can walk many interleavings deterministically.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.meeting import ClaimedPage
from source_openai_chat.feed.opening import ReadSettings, list_read
from source_openai_chat.feed.state import FeedPosition
from source_openai_chat.feed.two_ended import ListRead
from unit_tests.fake_list import FakeList

SEEDS = range(12)


@dataclass
class Result:
    delivered: list[str]
    position: FeedPosition  # the finished position, or the last checkpoint of a killed read
    finished: bool


def read(
    api: FakeList,
    position: FeedPosition | None = None,
    *,
    seed: int | None = None,
    lookback: int = 0,
    start: int | None = None,
    background: bool = True,
    stop_after_pages: int | None = None,
    listing: str | None = None,
) -> Result:
    """One read; `seed` None runs the chains in their threads. `listing` "asc" or "desc": a
    server that lists in that order whatever `order` says."""
    position = position or FeedPosition()
    settings = ReadSettings(api.page_size, lookback, start, check=not background)
    newest_first, oldest_first = (
        (api.fetch(listing), api.fetch(listing))
        if listing
        else (api.fetch("desc"), api.fetch("asc"))
    )
    list_reader = list_read(newest_first, oldest_first, position, settings, print)
    pages = list_reader.pages() if seed is None else interleaved(list_reader, random.Random(seed))
    delivered: list[str] = []
    checkpoint = position.checkpoint
    for count, page in enumerate(pages, start=1):
        delivered += [record["id"] for record in page.records]
        checkpoint = page.after
        if count == stop_after_pages:
            pages.close()
            return Result(delivered, replace(position, checkpoint=checkpoint), False)
    return Result(delivered, list_reader.finished(position), True)


def interleaved(list_reader: ListRead, rng: random.Random) -> Iterator[ClaimedPage]:
    if list_reader.meeting.finished:
        return
    chains = [list_reader.newest_first_pages()]
    if list_reader.two_ended and not list_reader.meeting.met and not list_reader.meeting.alone:
        chains.append(list_reader.oldest_first_pages())
    while chains:
        chain = rng.choice(chains)
        page = next(chain, None)
        if page is None:
            chains.remove(chain)
        else:
            yield page


def tied(count: int, seconds: int, seed: int = 0) -> list[int]:
    """`count` creation times within `seconds` seconds: many ties."""
    rng = random.Random(seed)
    return [1000 + rng.randrange(seconds) for _ in range(count)]


def once_each(delivered: list[str]) -> set[str]:
    duplicates = [i for i, n in Counter(delivered).items() if n > 1]
    assert not duplicates, f"delivered twice: {duplicates}"
    return set(delivered)


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 7, 20, 41])
@pytest.mark.parametrize("same_tie_order_both_ways", [False, True])
def test_a_full_read_delivers_every_completion_exactly_once_in_any_interleaving(
    size, same_tie_order_both_ways
):
    for seed in SEEDS:
        api = FakeList(tied(size, max(size // 4, 1), seed), 3, same_tie_order_both_ways)

        result = read(api, seed=seed)

        assert once_each(result.delivered) == set(api.ids())
        assert result.position.floor == (max(c["created"] for c in api.items) if size else None)


@pytest.mark.parametrize("size", [1, 5, 41])
def test_a_full_read_in_threads_delivers_every_completion_exactly_once(size):
    for attempt in range(5):
        api = FakeList(tied(size, 5, attempt))

        assert once_each(read(api).delivered) == set(api.ids())


def test_both_chains_read_and_meet_in_the_middle():
    api = FakeList(list(range(1000, 1030)), page_size=5)  # 6 pages

    read(api, seed=3)

    orders = Counter(order for order, _ in api.requests)
    assert orders["desc"] >= 2
    assert orders["asc"] >= 2
    assert len(api.requests) <= 6 + 2  # each chain at most one page past the meeting


@pytest.mark.parametrize("pages", [1, 2])
def test_a_list_of_one_or_two_pages_costs_at_most_one_extra_request(pages):
    for seed in SEEDS:
        api = FakeList(list(range(1000, 1000 + 3 * pages - 1)))

        read(api, seed=seed)

        assert len(api.requests) <= pages + 1, api.requests


def test_an_incremental_read_with_nothing_new_and_no_lookback_costs_at_most_two_requests():
    api = FakeList(list(range(1000, 1030)))  # (the newest second's ties may fill more pages)
    first = read(api)
    for seed in SEEDS:
        api.requests.clear()

        result = read(api, first.position, seed=seed)

        assert len(api.requests) <= 2, api.requests
        newest_second = [c["id"] for c in api.items if c["created"] == first.position.floor]
        assert set(result.delivered) <= set(newest_second)  # at most the newest second again


def test_check_reads_one_page_of_the_newest_first_chain_alone():
    api = FakeList(list(range(1000, 1030)))

    list_reader = list_read(
        api.fetch("desc"),
        api.fetch("asc"),
        FeedPosition(),
        ReadSettings(3, 0, None, check=True),
        print,
    )
    next(iter(list_reader.pages()))

    assert api.requests == [("desc", None)]


@pytest.mark.parametrize("lookback", [0, 5])
def test_an_incremental_read_delivers_what_is_new_once_and_the_lookback_window_again(lookback):
    for seed in SEEDS:
        api = FakeList(tied(40, 10, seed))
        first = read(api, seed=seed)
        floor = first.position.floor
        rng = random.Random(seed)
        new = [{"id": f"new{i}", "created": floor + rng.randrange(0, 6)} for i in range(17)]
        late = [
            {"id": f"late{i}", "created": floor - rng.randrange(0, lookback + 1)} for i in range(4)
        ]
        for record in new + late:
            api.add(record)
        api.delete(first.position.anchor) if seed % 2 else None  # the anchor itself, at times

        result = read(api, first.position, seed=seed, lookback=lookback)

        delivered = once_each(result.delivered)
        assert {r["id"] for r in new + late} <= delivered
        window = {c["id"] for c in api.items if c["created"] >= floor - lookback}
        assert delivered <= window  # nothing below the lookback window
        assert result.position.floor == max(c["created"] for c in api.items)


def test_a_start_date_without_an_anchor_keeps_the_read_to_the_newest_first_chain():
    api = FakeList(list(range(1000, 1030)))

    result = read(api, start=1020)

    assert {order for order, _ in api.requests} == {"desc"}
    assert once_each(result.delivered) == {c["id"] for c in api.items if c["created"] >= 1020}


def test_an_anchor_below_a_raised_start_date_is_not_read_upward_from():
    api = FakeList(list(range(1000, 1030)))
    position = FeedPosition(1010, anchor=api.items[-11]["id"])

    result = read(api, position, start=1020)

    assert {order for order, _ in api.requests} == {"desc"}
    delivered = once_each(result.delivered)
    assert min(c["created"] for c in api.items if c["id"] in delivered) == 1020


@pytest.mark.parametrize(
    "listing", [None, "asc", "desc"], ids=["by-order", "always-asc", "always-desc"]
)
@pytest.mark.parametrize("incremental", [False, True], ids=["full", "incremental"])
def test_a_read_killed_after_any_page_resumes_losing_nothing(incremental, listing):
    for seed in SEEDS[:6]:
        api = FakeList(tied(30, 8, seed))
        position = FeedPosition()
        expected = set(api.ids())
        if incremental:
            position = read(api, seed=seed, listing=listing).position
            for i in range(25):
                api.add({"id": f"new{i}", "created": position.floor + i // 3})
            expected = {c["id"] for c in api.items if c["created"] >= position.floor}
            expected.discard(position.anchor)  # delivered by the first read, and not again
        for stop in range(1, 30):
            killed = read(api, position, seed=seed + stop, stop_after_pages=stop, listing=listing)
            if killed.finished:
                break
            resumed = read(api, killed.position, seed=seed, listing=listing)

            assert set(killed.delivered) | set(resumed.delivered) >= expected
            if listing is None:  # a read that goes alone from the oldest end reads it again
                redelivered = set(killed.delivered) & set(resumed.delivered)
                assert len(redelivered) <= 2 * api.page_size + 8  # a page per chain (and ties)
            assert resumed.position.floor == max(c["created"] for c in api.items)


def test_retention_deleting_the_oldest_end_mid_read_skips_nothing_that_remains():
    for seed in SEEDS:
        api = FakeList(list(range(1000, 1040)))
        oldest = api.ids()[::-1][:12]
        api.before_request[4] = lambda api, oldest=oldest: [api.delete(i) for i in oldest]

        result = read(api, seed=seed)

        delivered = once_each(result.delivered)
        assert set(api.ids()) <= delivered


def test_completions_added_and_deleted_at_both_ends_during_a_read_reach_this_sync_or_the_next():
    for seed in SEEDS:
        api = FakeList(tied(40, 10, seed))
        added: list[str] = []

        def change(api: FakeList, n: int, added: list[str] = added) -> None:
            top = max(c["created"] for c in api.items)
            record = {"id": f"added{n}", "created": top + 1}
            api.add(record)
            added.append(record["id"])
            api.delete(api.ids()[-1])  # the oldest, as retention would
            api.delete(api.ids()[len(api.ids()) // 2])  # one in the middle, by a person

        for n in (2, 4, 6):
            api.before_request[n] = lambda api, n=n: change(api, n)
        first = read(api, seed=seed)
        second = read(api, first.position, seed=seed)

        assert once_each(first.delivered)
        assert set(api.ids()) <= set(first.delivered) | set(second.delivered)
        assert set(added) <= set(first.delivered) | set(second.delivered)


@pytest.mark.parametrize("listing", ["asc", "desc"])
@pytest.mark.parametrize("page_size", [1, 3, 7])
def test_a_server_that_ignores_order_loses_nothing_first_and_later_with_or_without_a_start(
    listing, page_size
):
    """A compatible server that lists in one order whatever `order` says (`asc` is OpenAI's
    documented default, so the likelier mistake) is read by one chain in its real order."""
    for seed in SEEDS:
        api = FakeList(tied(40, 20, seed), page_size)
        start = 1005 if seed % 3 == 0 else None

        first = read(api, seed=seed, listing=listing, start=start)

        wanted = {c["id"] for c in api.items if start is None or c["created"] >= start}
        assert set(first.delivered) == wanted
        if listing == "desc":
            once_each(first.delivered)
        floor = first.position.floor
        assert floor == max(c["created"] for c in api.items)
        rng = random.Random(seed)
        new = [{"id": f"new{i}", "created": floor + rng.randrange(0, 6)} for i in range(17)]
        late = [{"id": f"late{i}", "created": floor - rng.randrange(0, 6)} for i in range(4)]
        for record in new + late:
            api.add(record)

        second = read(api, first.position, seed=seed, lookback=5, listing=listing, start=start)

        assert {r["id"] for r in new + late} <= set(second.delivered)
        window = {c["id"] for c in api.items if c["created"] >= floor - 5}
        assert set(second.delivered) <= window  # nothing below the lookback window
        assert second.position.floor == max(c["created"] for c in api.items)


@pytest.mark.parametrize("listing", ["asc", "desc"])
def test_a_server_that_ignores_order_is_read_in_threads_losing_nothing(listing):
    for attempt in range(5):
        api = FakeList(tied(41, 5, attempt))

        assert set(read(api, listing=listing).delivered) == set(api.ids())


def test_a_server_listing_oldest_first_is_read_alone_from_the_oldest_end_with_one_warning(
    caplog,
):
    api = FakeList(list(range(1000, 1030)))

    read(api, seed=1, listing="asc")

    warned = [r.message for r in caplog.records if "ignores `order`" in r.getMessage()]
    assert len(warned) == 1
    assert "oldest first alone" in warned[0]


@pytest.mark.parametrize("listing", [None, "asc", "desc"])
def test_an_unsorted_list_fails_the_read_instead_of_delivering_part_of_it(listing):
    """Neither order: `created` goes both ways, whichever order a chain asked for."""
    for seed in SEEDS[:4]:
        api = FakeList(list(range(1000, 1030)), 3)
        rng = random.Random(seed)
        rng.shuffle(api.items)

        with pytest.raises(AirbyteTracedException, match="in neither order"):
            read(api, seed=seed, listing=listing)


def empty_page_claiming_more_at(request: int, fetch: Callable[[str | None], ApiPage]):
    """`fetch`, answering its `request`-th call with an empty page that claims more."""
    calls = 0

    def glitching(after: str | None) -> ApiPage:
        nonlocal calls
        calls += 1
        return ApiPage([], True, None) if calls == request else fetch(after)

    return glitching


@pytest.mark.parametrize("giving_up", ["desc", "asc"])
def test_a_chain_sent_an_empty_page_claiming_more_stops_and_the_other_reads_on_to_it(giving_up):
    """The API's glitch ends one chain short of its end; the other chain, not told that it
    met anything, reads on until it reaches what the first delivered: nothing is lost."""
    for seed in SEEDS:
        api = FakeList(tied(40, 10, seed))
        chains = {order: api.fetch(order) for order in ("desc", "asc")}
        chains[giving_up] = empty_page_claiming_more_at(2, chains[giving_up])
        settings = ReadSettings(api.page_size, 0, None)
        list_reader = list_read(chains["desc"], chains["asc"], FeedPosition(), settings, print)

        pages = interleaved(list_reader, random.Random(seed))

        assert once_each([r["id"] for page in pages for r in page.records]) == set(api.ids())
