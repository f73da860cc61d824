"""The versioned `chat_completions` state: reading every version, writing version 3."""

from __future__ import annotations

import pytest

from source_openai_chat.feed.fetched_window import FetchedWindow
from source_openai_chat.feed.state import (
    ALL_MODELS,
    ChainPosition,
    Checkpoint,
    FeedPosition,
    FeedState,
    UnreadableState,
)

CHECKPOINT = Checkpoint(ChainPosition("chatcmpl-b", 150), newest_created=200)
TWO_CHAINS = Checkpoint(
    newest_first=ChainPosition("chatcmpl-b", 150),
    oldest_first=ChainPosition("chatcmpl-y", 120),
    origin="chatcmpl-a",
    newest_created=200,
    newest_id="chatcmpl-n",
    oldest_first_proven=True,
)


def test_the_proof_of_each_chain_and_a_read_gone_alone_round_trip():
    proven = Checkpoint(
        ChainPosition("chatcmpl-b", 150), newest_created=200, newest_first_proven=True
    )
    alone = Checkpoint(
        oldest_first=ChainPosition("chatcmpl-y", 120), newest_created=200, listed_oldest_first=True
    )
    state = FeedState({ALL_MODELS: FeedPosition(100, proven), "o3": FeedPosition(None, alone)})

    written = state.to_json()

    assert written["checkpoint"]["proven"] is True
    assert written["models"]["o3"]["checkpoint"]["listed_oldest_first"] is True
    assert FeedState.from_json(written) == state
    # A full refresh forgets a read that went alone below a floor, and keeps one without.
    assert FeedState({"m": FeedPosition(100, alone)}).without_floors().positions == {}
    assert (
        FeedState({"m": FeedPosition(None, alone)}).without_floors().positions["m"].checkpoint
        == alone
    )


def test_version_3_round_trips_with_both_chains_anchors_and_models():
    state = FeedState(
        {
            ALL_MODELS: FeedPosition(100, TWO_CHAINS, anchor="chatcmpl-a"),
            "gpt-4o": FeedPosition(90, anchor="chatcmpl-m"),
            "o3": FeedPosition(80, Checkpoint(met=True, origin="chatcmpl-o"), anchor="chatcmpl-o"),
        }
    )

    written = state.to_json()

    assert written == {
        "state_version": 3,
        "created": "100",
        "anchor": "chatcmpl-a",
        "checkpoint": {
            "after": "chatcmpl-b",
            "after_created": 150,
            "ascending": {"after": "chatcmpl-y", "after_created": 120, "proven": True},
            "origin": "chatcmpl-a",
            "newest_created": 200,
            "newest_id": "chatcmpl-n",
        },
        "models": {
            "gpt-4o": {"created": "90", "anchor": "chatcmpl-m"},
            "o3": {
                "created": "80",
                "anchor": "chatcmpl-o",
                "checkpoint": {"origin": "chatcmpl-o", "met": True, "newest_created": None},
            },
        },
    }
    assert FeedState.from_json(written) == state


def test_version_2_reads_as_the_newest_first_chain_alone_without_an_anchor():
    state = FeedState.from_json(
        {
            "state_version": 2,
            "created": "100",
            "checkpoint": {"after": "chatcmpl-b", "after_created": 150, "newest_created": 200},
            "models": {"gpt-4o": {"created": "90"}},
        }
    )

    assert state.positions == {
        ALL_MODELS: FeedPosition(100, CHECKPOINT),
        "gpt-4o": FeedPosition(90),
    }
    assert state.to_json()["state_version"] == 3


@pytest.mark.parametrize("created", ["1767225600", 1767225600])
def test_version_1_cursor_becomes_the_floor_of_all_models(created):
    state = FeedState.from_json({"created": created})

    assert state.positions == {ALL_MODELS: FeedPosition(1767225600)}
    assert state.to_json() == {"state_version": 3, "created": "1767225600"}


def test_version_1_per_model_state_of_the_cdk_is_migrated():
    state = FeedState.from_json(
        {
            "states": [
                {"partition": {"model": "gpt-4o"}, "cursor": {"created": "300"}},
                {"partition": {"model": "o3"}, "cursor": {"created": "200"}},
            ],
            "state": {"created": "200"},
            "use_global_cursor": False,
        }
    )

    assert state.positions == {"gpt-4o": FeedPosition(300), "o3": FeedPosition(200)}


@pytest.mark.parametrize(
    ("parent", "positions"),
    [
        ({"created": "500"}, {ALL_MODELS: FeedPosition(500)}),
        (
            {"states": [{"partition": {"model": "gpt-4o"}, "cursor": {"created": "400"}}]},
            {"gpt-4o": FeedPosition(400)},
        ),
    ],
    ids=["all models", "per model"],
)
def test_the_0_2_0_messages_state_takes_its_parents_cursor_as_the_floor(parent, positions):
    state = FeedState.from_json(
        {
            "use_global_cursor": True,
            "state": {"completion_created": "500"},
            "parent_state": {"chat_completions": parent},
            "lookback_window": 3600,
        }
    )

    assert state.positions == positions


def test_the_fetched_window_round_trips_and_a_full_refresh_forgets_it():
    fetched = FetchedWindow.of([("chatcmpl-a", 190), ("chatcmpl-b", 200)])
    state = FeedState({ALL_MODELS: FeedPosition(200, CHECKPOINT, fetched)})

    assert FeedState.from_json(state.to_json()) == state
    assert state.without_floors().positions[ALL_MODELS].fetched is None


def test_an_unreadable_fetched_window_costs_requests_not_the_sync():
    state = FeedState.from_json({"state_version": 2, "created": "200", "fetched": "%%%"})

    assert state.positions[ALL_MODELS] == FeedPosition(200)


def test_a_model_without_its_own_position_starts_where_an_unfiltered_sync_stopped():
    state = FeedState({ALL_MODELS: FeedPosition(100, CHECKPOINT)})

    assert state.position("gpt-4o") == FeedPosition(100)  # never another read's checkpoint
    assert FeedState({"o3": FeedPosition(50)}).position("gpt-4o") == FeedPosition()
    assert FeedState({"o3": FeedPosition(50)}).position(ALL_MODELS) == FeedPosition()


def test_full_refresh_keeps_where_it_stood_and_forgets_floors_and_anchors():
    state = FeedState(
        {
            ALL_MODELS: FeedPosition(100, TWO_CHAINS, anchor="chatcmpl-a"),
            "gpt-4o": FeedPosition(None, TWO_CHAINS),
            "o3": FeedPosition(50, anchor="chatcmpl-o"),
        }
    )

    assert state.without_floors().positions == {
        # It read upward from an anchor a full refresh does not start from: only the
        # newest-first chain's place carries over.
        ALL_MODELS: FeedPosition(None, CHECKPOINT),
        "gpt-4o": FeedPosition(None, TWO_CHAINS),
    }


def test_a_finished_position_takes_the_newest_completion_it_delivered_as_floor_and_anchor():
    assert FeedPosition(100, CHECKPOINT).finished(200, "n") == FeedPosition(200, anchor="n")
    assert FeedPosition(300, CHECKPOINT, anchor="a").finished(200, "n") == FeedPosition(
        300, anchor="a"
    )
    assert FeedPosition(300, anchor="a").finished(300) == FeedPosition(300, anchor="a")
    assert FeedPosition().finished(None) == FeedPosition()


def test_a_newer_version_is_refused():
    with pytest.raises(UnreadableState, match="version 4"):
        FeedState.from_json({"state_version": 4})


def test_an_unknown_shape_starts_over_instead_of_failing():
    assert FeedState.from_json({"something": "else"}).positions == {}
    assert FeedState.from_json(None).positions == {}
