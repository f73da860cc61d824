"""Both ends of the list at once, against the emulator over HTTP: exactly once between the
chains, ties at the meeting point, changes at both ends while a sync reads, kill and resume.

Reads run in-process (harness.run_in_process); a sync that dies is the installed CLI, killed.
Every interleaving of the two chains is walked in memory by unit_tests/test_two_ended.py;
these tests prove the same rules hold through HTTP, threads, the CDK engine and STATE lines.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from integration_tests.emulator import TEST_API_KEY, Emulator, generate, make_completion
from integration_tests.harness import (
    FORK_SERVER,
    STREAM,
    TIE_ORDERS,
    ConnectorRun,
    assert_finished,
    configured_catalog,
    run_in_process,
    run_until_killed,
)

PAGE = 20
FULL_REFRESH = configured_catalog({STREAM: "full_refresh"})
INCREMENTAL = configured_catalog({STREAM: "incremental"})


def delivered_once(run: ConnectorRun) -> set[str]:
    counts = Counter(record["id"] for record in run.records)
    assert [i for i, n in counts.items() if n > 1] == [], "delivered twice"
    return set(counts)


def orders(emulator: Emulator) -> Counter[str | None]:
    return Counter(request.param("order") for request in emulator.list_requests())


def stream_state(run: ConnectorRun) -> dict[str, Any]:
    return run.last_state[0]["stream"]["stream_state"]


@pytest.fixture
def tied(request: pytest.FixtureRequest):
    """300 completions within 12 seconds: every page, and the meeting point, falls among
    completions of the same second. Parametrize with Emulator keywords (shuffle_ties)."""
    dataset = generate(300)
    rng = random.Random(3)
    for record in dataset.completions:
        record["created"] = 1_767_225_600 + rng.randrange(12)
    with Emulator(dataset, api_keys=[TEST_API_KEY], **getattr(request, "param", {})) as running:
        yield running


def paged(emulator: Emulator, **settings: Any) -> dict[str, Any]:
    return {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "page_size": PAGE, **settings}


@pytest.mark.parametrize(
    "tied", [{}, {"shuffle_ties": True}], ids=["arrival-ties", "shuffled-ties"], indirect=True
)
def test_the_chains_meet_among_ties_and_deliver_each_completion_once(tied):
    run = run_in_process("read", paged(tied), catalog=FULL_REFRESH)

    assert run.exit_code == 0
    assert delivered_once(run) == {record["id"] for record in tied.completions()}
    assert orders(tied)["desc"] >= 3
    assert orders(tied)["asc"] >= 3
    # Past the meeting, each chain reads at most a page, and the rest of the meeting second
    # (ties are compared by id, so both chains read that whole second).
    most_ties = max(Counter(r["created"] for r in tied.completions()).values())
    assert sum(orders(tied).values()) <= 300 // PAGE + 2 + 2 * -(-most_ties // PAGE)


@TIE_ORDERS
def test_each_model_is_read_from_both_ends(emulator):
    models = ["gpt-4o-2024-08-06", "o3-mini-2025-01-31"]
    config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "page_size": 20}

    run = run_in_process("read", {**config, "models": models}, catalog=INCREMENTAL)

    wanted = {r["id"] for r in emulator.completions() if r["model"] in models}
    assert delivered_once(run) == wanted
    read_from = {(q.param("model"), q.param("order")) for q in emulator.list_requests()}
    assert read_from == {(m, o) for m in models for o in ("desc", "asc")}
    assert set(stream_state(run)["models"]) == set(models)
    assert all("anchor" in position for position in stream_state(run)["models"].values())


@TIE_ORDERS
def test_completions_added_and_deleted_at_both_ends_while_reading_reach_this_sync_or_the_next(
    emulator,
):
    rng = random.Random(11)
    newest = max(r["created"] for r in emulator.completions())
    added: list[dict[str, Any]] = []

    def change(count: int) -> None:
        if count in (2, 5, 8):  # while both chains read
            for created in (newest + 10 * count, newest - 1200):  # the top; a late arrival
                record = make_completion(rng, created)
                emulator.add(record)
                added.append(record)
            oldest = min(emulator.completions(), key=lambda r: r["created"])
            emulator.delete(oldest["id"])  # retention, at the oldest end
            middle = emulator.completions()[len(emulator.completions()) // 2]
            emulator.delete(middle["id"])  # a person, in the middle

    emulator.on_list_request = change
    config = paged(emulator, page_size=50)  # lookback: the default hour
    first = run_in_process("read", config, catalog=INCREMENTAL)
    emulator.on_list_request = None

    second = run_in_process("read", config, catalog=INCREMENTAL, state=first.last_state)

    assert first.exit_code == second.exit_code == 0
    remaining = {r["id"] for r in emulator.completions()}
    assert remaining <= delivered_once(first) | delivered_once(second)
    assert {r["id"] for r in added} <= delivered_once(first) | delivered_once(second)


def test_retention_at_the_oldest_end_restarts_that_chain_from_the_new_oldest(emulator):
    deleted: list[str] = []

    def retention(count: int) -> None:
        request = emulator.list_requests()[-1]
        if request.param("order") == "asc" and request.param("after") and not deleted:
            # Just before the oldest-first chain's second page: the id it pages after expires.
            for record in sorted(emulator.completions(), key=lambda r: r["created"])[:30]:
                emulator.delete(record["id"])
                deleted.append(record["id"])

    emulator.on_list_request = retention
    run = run_in_process("read", paged(emulator), catalog=FULL_REFRESH)

    assert run.exit_code == 0
    assert {r["id"] for r in emulator.completions()} <= delivered_once(run)
    assert deleted
    assert any("reading again from the oldest" in line for line in run.logs)


def test_a_version_2_checkpoint_resumes_newest_first_and_the_next_sync_leaves_an_anchor(emulator):
    newest_first = emulator.store.records()[::-1]  # the list's own order, ties included
    place = newest_first[99]
    floor = newest_first[-50]["created"]
    version_2 = {
        "state_version": 2,
        "created": str(floor),
        "checkpoint": {
            "after": place["id"],
            "after_created": place["created"],
            "newest_created": newest_first[0]["created"],
        },
    }
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": STREAM}, "stream_state": version_2},
        }
    ]

    run = run_in_process(
        "read", paged(emulator, lookback_window_minutes=0), catalog=INCREMENTAL, state=state
    )

    assert run.exit_code == 0
    below = {r["id"] for r in newest_first[100:] if r["created"] >= floor}
    assert below <= delivered_once(run)
    assert {q.param("order") for q in emulator.list_requests()} == {"desc"}  # no anchor yet
    assert emulator.list_requests()[0].param("after") == place["id"]
    newest = newest_first[0]["created"]
    # Which completion 1.0 delivered at the newest second is not in its state: no anchor yet.
    assert stream_state(run) == {"state_version": 3, "created": str(newest)}
    config = paged(emulator, lookback_window_minutes=0)
    after = run_in_process("read", config, catalog=INCREMENTAL, state=run.last_state)
    assert_finished(stream_state(after), emulator.completions(), newest)


MESSAGES = "chat_completion_messages"
BOTH_STREAMS = configured_catalog({STREAM: "incremental", MESSAGES: "incremental"})


def _mid_read(checkpoints: int) -> Callable[[dict[str, Any]], bool]:
    """A `kill_at` that accepts the `checkpoints`-th STATE saved in the middle of a read."""
    seen = 0

    def accept(state: dict[str, Any]) -> bool:
        nonlocal seen
        stream_state = state["stream"]["stream_state"]
        positions = stream_state.get("models") or {"": stream_state}
        seen += any("checkpoint" in position for position in positions.values())
        return seen == checkpoints

    return accept


@FORK_SERVER
@pytest.mark.parametrize(
    ("listing", "models"),
    [("asc", None), ("asc", ["gpt-4o-2024-08-06", "o3-mini-2025-01-31"]), ("desc", None)],
    ids=["always-asc", "always-asc-per-model", "always-desc"],
)
def test_a_server_that_ignores_order_loses_nothing_killed_again_and_again(listing, models):
    """A compatible server that lists in one order whatever `order` says, with ties: each
    stream's sync killed after every fourth checkpoint (per partition) and resumed until one
    finishes, with completions added and deleted between runs, delivers every completion that
    existed throughout (with its messages); the next sync of both delivers what was added."""
    dataset = generate(80)
    rng = random.Random(21)
    for record in dataset.completions:
        record["created"] = 1_767_225_600 + rng.randrange(40)  # ties on every page
    model = (models or [None])[0]
    with Emulator(dataset, api_keys=[TEST_API_KEY], ignore_order=listing) as server:
        config = paged(server, page_size=7, lookback_window_minutes=0, models=models)
        throughout = {r["id"] for r in server.completions() if not models or r["model"] in models}
        delivered: dict[str, set[str]] = {STREAM: set(), MESSAGES: set()}
        states: list[dict[str, Any]] = []
        added: list[str] = []
        for stream in (STREAM, MESSAGES):
            catalog = configured_catalog({stream: "incremental"})
            runs = 0
            while runs < 30:
                runs += 1
                # Killed only mid-read (a STATE with a checkpoint; a finished read's last one has
                # none): the first run at once, so each stream is resumed, then after a few
                # checkpoints per partition, so each run makes progress. Every partition
                # re-reads its whole list on every sync (a server listing oldest first has no
                # other way to the lookback window).
                run = run_until_killed(
                    config,
                    catalog=catalog,
                    state=states,
                    kill_at=_mid_read(1 if runs == 1 else 4 * len(models or [None])),
                )
                ids = "completion_id" if stream == MESSAGES else "id"
                delivered[stream] |= {r[ids] for r in run.records_of(stream)}
                states = [s for s in states if s["stream"]["stream_descriptor"]["name"] != stream]
                states += run.last_state or []
                if run.exit_code == 0:
                    break
                newest = max(r["created"] for r in server.completions())
                record = make_completion(rng, newest + 1, model=model)
                server.add(record)
                added.append(record["id"])
                gone = sorted(throughout)[0]  # deleted by a person or by retention
                server.delete(gone)
                throughout.discard(gone)
            assert runs > 1, f"{stream}: never killed, so nothing was resumed"
            assert run.exit_code == 0, f"{stream}: 30 killed syncs did not finish the read"
        newer = [make_completion(rng, 1_767_225_700, model=model) for _ in range(9)]
        for record in newer:
            server.add(record, [{"id": f"{record['id']}-0", "role": "user", "content": "hi"}])
        after = run_in_process("read", config, catalog=BOTH_STREAMS, state=states)

    assert throughout <= delivered[STREAM]
    assert {c for c in throughout if dataset.messages.get(c)} <= delivered[MESSAGES]
    assert after.exit_code == 0, after.errors
    assert {r["id"] for r in newer} <= {r["id"] for r in after.records_of(STREAM)}
    assert set(added) <= delivered[STREAM] | {r["id"] for r in after.records_of(STREAM)}
    assert {r["id"] for r in newer} <= {m["completion_id"] for m in after.records_of(MESSAGES)}
    warned = [line for line in after.logs if "it ignores `order`" in line]
    assert len(warned) == 2  # once per stream
    assert f"read {'oldest' if listing == 'asc' else 'newest'} first alone" in warned[0]


def test_an_unsorted_list_fails_the_sync_clearly_instead_of_delivering_part_of_it(emulator):
    """A server that lists in neither order: here one completion listed among the oldest
    though created after all others."""
    oldest, newest = emulator.completions()[0], emulator.completions()[-1]
    emulator.add(
        make_completion(random.Random(4), newest["created"] + 60), listed_at=oldest["created"]
    )

    run = run_in_process("read", paged(emulator), catalog=FULL_REFRESH)

    assert run.exit_code == 1
    assert run.errors[0]["failure_type"] == "system_error"
    assert "in neither order" in run.errors[0]["message"]


def checkpoint_of(state: dict[str, Any]) -> dict[str, Any]:
    return state["stream"]["stream_state"].get("checkpoint") or {}


def both_chains_in(times: int) -> Callable[[dict[str, Any]], bool]:
    """The `times`-th checkpoint with both chains under way, before they met."""
    seen = []

    def accept(state: dict[str, Any]) -> bool:
        checkpoint = checkpoint_of(state)
        if "after" in checkpoint and "ascending" in checkpoint and not checkpoint.get("met"):
            seen.append(state)
        return len(seen) == times

    return accept


def met(times: int) -> Callable[[dict[str, Any]], bool]:
    """The `times`-th checkpoint after the chains met."""
    seen = []

    def accept(state: dict[str, Any]) -> bool:
        if checkpoint_of(state).get("met"):
            seen.append(state)
        return len(seen) == times

    return accept


# A sync killed early, with each chain a few pages in, is test_reliability_end_to_end.py's
# (first and later syncs); unit_tests/test_two_ended.py kills after every page.
@FORK_SERVER
@pytest.mark.parametrize(
    ("backlog", "stage"),
    [(0, "mid-way"), (400, "met"), (400, "below-the-anchor")],
    ids=["full-both-chains-mid-way", "catch-up-as-they-meet", "catch-up-below-the-anchor"],
)
def test_a_sync_killed_at_any_stage_resumes_with_each_chain_after_its_place(
    emulator, backlog, stage
):
    config = paged(emulator, lookback_window_minutes=600)  # a window of several pages
    state = None
    if backlog:
        state = run_in_process("read", config, catalog=INCREMENTAL).last_state
        rng = random.Random(backlog)
        newest = max(r["created"] for r in emulator.completions())
        for offset in range(backlog):
            emulator.add(make_completion(rng, newest + 1 + offset // 3))
    expected = {r["id"] for r in emulator.completions()}
    if backlog:
        floor = int(state[0]["stream"]["stream_state"]["created"])
        expected = {r["id"] for r in emulator.completions() if r["created"] >= floor - 36_000}
        expected.discard(state[0]["stream"]["stream_state"]["anchor"])

    # Mid-way: both chains 8 checkpoints in. Then the first checkpoint after the chains met,
    # and the sixth (the read below the anchor under way). (A full read ends where they meet.)
    kill_at = {
        "mid-way": both_chains_in(8),
        "met": met(1),
        "below-the-anchor": met(6),
    }[stage]
    killed = run_until_killed(config, catalog=INCREMENTAL, state=state, kill_at=kill_at)
    checkpoint = stream_state(killed)["checkpoint"]
    emulator.clear_requests()
    resumed = run_in_process("read", config, catalog=INCREMENTAL, state=killed.last_state)

    assert killed.exit_code != 0
    assert bool(checkpoint.get("met")) == (stage != "mid-way")  # killed at the stage it names
    assert resumed.exit_code == 0
    delivered = {r["id"] for r in killed.records} | delivered_once(resumed)
    assert expected <= delivered
    again = {r["id"] for r in killed.records} & {r["id"] for r in resumed.records}
    assert len(again) <= 2 * PAGE  # at most a page per chain
    first_after: dict[str | None, str | None] = {}
    for request in emulator.list_requests():
        first_after.setdefault(request.param("order"), request.param("after"))
    if checkpoint.get("met"):
        assert "asc" not in first_after  # the chains had met: only the read below the anchor
    else:
        assert first_after["desc"] == checkpoint["after"]
        assert first_after["asc"] == checkpoint["ascending"]["after"]
    newest = max(r["created"] for r in emulator.completions())
    assert_finished(stream_state(resumed), emulator.completions(), newest)
