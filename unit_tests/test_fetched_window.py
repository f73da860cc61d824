"""The compact record of which completions' messages were delivered in the lookback window."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_openai_chat.feed.fetched_window import FetchedWindow

HOUR_START = 1_767_225_600


def test_encoding_round_trips():
    window = FetchedWindow.of([("chatcmpl-a", HOUR_START), ("chatcmpl-b", HOUR_START + 7)])

    decoded = FetchedWindow.decode(window.encode())

    assert decoded == window
    assert decoded.contains("chatcmpl-a")
    assert not decoded.contains("chatcmpl-c")


def test_ten_thousand_completions_in_an_hour_fit_in_128_kb():
    rng = random.Random(1)
    ids = [(f"chatcmpl-{rng.getrandbits(128):032x}", HOUR_START + i * 3600 // 10_000)
           for i in range(10_000)]  # fmt: skip

    encoded = FetchedWindow.of(ids).encode()

    assert len(encoded) <= 128 * 1024
    assert FetchedWindow.decode(encoded) == FetchedWindow.of(ids)


def test_since_forgets_completions_below_the_next_lower_bound():
    window = FetchedWindow.of([("old", 100), ("edge", 200), ("new", 300)])

    kept = window.since(200)

    assert (kept.contains("old"), kept.contains("edge"), kept.contains("new")) == (
        False,
        True,
        True,
    )
    assert window.since(None) == window


@pytest.mark.parametrize("text", ["not base64!", "AAAA", "gA=="])
def test_a_text_this_module_did_not_write_is_refused(text):
    with pytest.raises(ValueError, match=r"."):
        FetchedWindow.decode(text)


# Every `created` a list item can carry as a JSON integer (orjson reads wider ones as floats,
# which are odd records): negative, zero, huge, and ties.
CREATED = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from([-1, 0, 1, HOUR_START, 2**63 - 1, 2**64 - 1]),
)


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(
    entries=st.lists(st.tuples(st.text(min_size=1, max_size=8), CREATED), max_size=12),
    lower_bound=st.one_of(st.none(), CREATED),
)
def test_any_created_is_written_and_read_back_and_nothing_is_forgotten_early(entries, lower_bound):
    window = FetchedWindow.of(entries)

    decoded = FetchedWindow.decode(window.encode())

    assert len(decoded) == len(window)
    assert all(decoded.contains(completion_id) for completion_id, _ in entries)
    # A negative `created` is kept as 0: remembered at least as long, never forgotten sooner.
    kept, kept_decoded = window.since(lower_bound), decoded.since(lower_bound)
    assert all(kept_decoded.contains(i) for i, _ in entries if kept.contains(i))
    assert decoded == FetchedWindow.of((i, max(c, 0)) for i, c in dict(entries).items())
