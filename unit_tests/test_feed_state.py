"""The versioned `chat_completions` state: reading every version, writing version 2."""

from __future__ import annotations

import pytest

from source_openai_chat.feed.state import (
    ALL_MODELS,
    Checkpoint,
    FeedPosition,
    FeedState,
    UnreadableState,
)
from source_openai_chat.streams.fetched_window import FetchedWindow

CHECKPOINT = Checkpoint("chatcmpl-b", 150, 200)


def test_version_2_round_trips_with_checkpoints_and_models():
    state = FeedState(
        {
            ALL_MODELS: FeedPosition(100, CHECKPOINT),
            "gpt-4o": FeedPosition(90),
        }
    )

    written = state.to_json()

    assert written == {
        "state_version": 2,
        "created": "100",
        "checkpoint": {"after": "chatcmpl-b", "after_created": 150, "newest_created": 200},
        "models": {"gpt-4o": {"created": "90"}},
    }
    assert FeedState.from_json(written) == state


@pytest.mark.parametrize("created", ["1767225600", 1767225600])
def test_version_1_cursor_becomes_the_floor_of_all_models(created):
    state = FeedState.from_json({"created": created})

    assert state.positions == {ALL_MODELS: FeedPosition(1767225600)}
    assert state.to_json() == {"state_version": 2, "created": "1767225600"}


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


def test_full_refresh_keeps_checkpoints_and_forgets_floors():
    state = FeedState({ALL_MODELS: FeedPosition(100, CHECKPOINT), "o3": FeedPosition(50)})

    assert state.without_floors().positions == {ALL_MODELS: FeedPosition(None, CHECKPOINT)}


def test_a_finished_position_takes_the_newest_created_it_delivered():
    assert FeedPosition(100, CHECKPOINT).finished(200) == FeedPosition(200)
    assert FeedPosition(300, CHECKPOINT).finished(200) == FeedPosition(300)
    assert FeedPosition().finished(None) == FeedPosition()


def test_a_newer_version_is_refused():
    with pytest.raises(UnreadableState, match="version 3"):
        FeedState.from_json({"state_version": 3})


def test_an_unknown_shape_starts_over_instead_of_failing():
    assert FeedState.from_json({"something": "else"}).positions == {}
    assert FeedState.from_json(None).positions == {}
