"""`chat_completion_messages` as a busy account uses it, against the emulator.

A sync that dies is the installed CLI, killed; every other run is in-process
(harness.run_in_process).

Every run's messages are compared with the emulator's exactly (the union of a killed run and
its resume, too), and the emulator's request log says which completions were requested.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from integration_tests.emulator import (
    TEST_API_KEY,
    Emulator,
    Fault,
    generate,
    generate_recent,
    make_completion,
    make_messages,
)
from integration_tests.harness import (
    FORK_SERVER,
    STREAM,
    ConnectorRun,
    configured_catalog,
    run_in_process,
    run_until_killed,
)
from source_openai_chat.feed.fetched_window import FetchedWindow

MESSAGES = "chat_completion_messages"
INCREMENTAL = configured_catalog({MESSAGES: "incremental"})
FULL_REFRESH = configured_catalog({MESSAGES: "full_refresh"})
REQUESTED_AHEAD = 100  # what a resume may request again (streams.messages.REQUESTED_AHEAD)


def expected(emulator: Emulator) -> set[tuple[str, str]]:
    return {(cid, m["id"]) for cid, messages in emulator.store.messages.items() for m in messages}


def delivered(*runs: ConnectorRun) -> set[tuple[str, str]]:
    return {(r["completion_id"], r["id"]) for run in runs for r in run.records_of(MESSAGES)}


def requested(emulator: Emulator) -> list[str]:
    """Completions whose first messages page was requested, once per request (429s included)."""
    return [
        r.path.split("/")[-2]
        for r in emulator.requests
        if r.path.endswith("/messages") and r.param("after") is None
    ]


def add(emulator: Emulator, rng: random.Random, created: int) -> str:
    record = make_completion(rng, created)
    emulator.add(record, make_messages(rng, record["id"], 2))
    return record["id"]


@pytest.fixture
def busy() -> Any:
    """300 completions inside the last 30 minutes, all inside the default 60-minute lookback."""
    with Emulator(generate_recent(300, 1800)) as running:
        yield running


class TestFetchedOnce:
    def test_a_later_sync_requests_only_new_completions_and_late_arrivals(self, busy):
        config = {"api_key": TEST_API_KEY, "base_url": busy.base_url}
        first = run_in_process("read", config, catalog=INCREMENTAL)
        rng = random.Random(3)
        newest = max(c["created"] for c in busy.completions())
        new = {add(busy, rng, newest + 1 + offset) for offset in range(20)}
        late = add(busy, rng, newest - 600)  # listed late, 10 minutes behind the cursor
        busy.clear_requests()

        second = run_in_process("read", config, catalog=INCREMENTAL, state=first.last_state)

        assert second.exit_code == 0
        assert set(requested(busy)) == new | {late}
        assert delivered(first, second) == expected(busy)

    def test_the_state_keeps_the_window_compactly_and_forgets_what_falls_out(self, busy):
        config = {"api_key": TEST_API_KEY, "base_url": busy.base_url}
        short = {**config, "lookback_window_minutes": 10}

        run = run_in_process("read", short, catalog=INCREMENTAL)

        state = run.last_state[-1]["stream"]["stream_state"]
        newest = max(c["created"] for c in busy.completions())
        in_window = [
            (c["id"], c["created"]) for c in busy.completions() if c["created"] >= newest - 600
        ]
        assert state["created"] == str(newest)
        assert FetchedWindow.decode(state["fetched"]) == FetchedWindow.of(in_window)
        assert len(state["fetched"]) <= 12 * len(in_window) + 8  # 9 bytes an id, in base64


class TestResume:
    @FORK_SERVER
    @pytest.mark.parametrize("catalog", [INCREMENTAL, FULL_REFRESH], ids=["incremental", "full"])
    def test_first_sync_killed_mid_way_resumes_requesting_at_most_100_again(
        self, emulator, config, catalog
    ):
        killed = run_until_killed(config, catalog=catalog, kill_after_states=3)
        before = set(requested(emulator))
        emulator.clear_requests()

        resumed = run_in_process("read", config, catalog=catalog, state=killed.last_state)

        assert resumed.exit_code == 0
        assert delivered(killed, resumed) == expected(emulator)
        assert len(before & set(requested(emulator))) <= REQUESTED_AHEAD
        assert len(before) < len(emulator.completions())  # it was killed mid-way

    @FORK_SERVER
    def test_later_sync_killed_mid_way_resumes_requesting_at_most_100_again(self, emulator, config):
        first = run_in_process("read", config, catalog=INCREMENTAL)
        rng = random.Random(5)
        newest = max(c["created"] for c in emulator.completions())
        for offset in range(1, 301):
            add(emulator, rng, newest + offset)
        emulator.clear_requests()

        killed = run_until_killed(
            config, catalog=INCREMENTAL, state=first.last_state, kill_after_states=2
        )
        before = set(requested(emulator))
        emulator.clear_requests()
        resumed = run_in_process("read", config, catalog=INCREMENTAL, state=killed.last_state)

        assert resumed.exit_code == 0
        assert delivered(first, killed, resumed) == expected(emulator)
        assert len(before & set(requested(emulator))) <= REQUESTED_AHEAD

    @FORK_SERVER
    def test_a_completion_with_hundreds_of_messages_does_not_stretch_the_resume(self, config):
        rng = random.Random(8)
        dataset = generate(300, seed=8)
        for completion in dataset.completions[100:110]:  # ten with 450 messages (5 pages) each
            dataset.messages[completion["id"]] = make_messages(rng, completion["id"], 450)
        with Emulator(dataset) as emulator:
            settings = {**config, "base_url": emulator.base_url, "num_workers": 16}
            killed = run_until_killed(settings, catalog=INCREMENTAL, kill_after_states=2)
            before = set(requested(emulator))
            emulator.clear_requests()

            resumed = run_in_process("read", settings, catalog=INCREMENTAL, state=killed.last_state)

            assert delivered(killed, resumed) == expected(emulator)
            assert len(before & set(requested(emulator))) <= REQUESTED_AHEAD


class TestRateLimits:
    def test_a_rate_limited_sync_slows_down_and_delivers_every_message(self, config):
        with Emulator(generate(150, seed=4), rate_limit=60) as emulator:
            settings = {**config, "base_url": emulator.base_url, "num_workers": 16}

            run = run_in_process("read", settings, catalog=FULL_REFRESH)

            assert run.exit_code == 0
            assert delivered(run) == expected(emulator)
            assert emulator.rate_limited > 0
            assert any("rate limiting" in line for line in run.logs)

    @pytest.mark.parametrize("headers", [False, True], ids=["no-headers", "openai-headers"])
    def test_a_second_client_spending_half_the_limit_slows_the_sync_without_failing_it(
        self, config, headers
    ):
        """Another sync or production traffic on the same key: a small-burst limit (0.2 s of
        the rate), with and without OpenAI's x-ratelimit headers on every answer."""
        emulator = Emulator(
            generate(120, seed=5),
            rate_limit=80,
            rate_limit_burst_s=0.2,
            rate_limit_headers=headers,
        )
        with emulator, emulator.other_client(0.5):
            settings = {**config, "base_url": emulator.base_url, "num_workers": 16}

            run = run_in_process("read", settings, catalog=FULL_REFRESH)

        assert run.exit_code == 0, run.errors
        assert delivered(run) == expected(emulator)

    def test_an_exhausted_quota_fails_at_once_as_a_config_error(self, emulator, config):
        emulator.inject(Fault("quota", path="/v1/chat/completions/", skip=2, times=-1))

        run = run_in_process("read", config, catalog=FULL_REFRESH)

        assert run.exit_code != 0
        assert run.errors[0]["failure_type"] == "config_error"
        assert "quota" in run.errors[0]["message"]
        assert len(requested(emulator)) < 20  # not retried for minutes


class TestOneListForBothStreams:
    def test_with_models_each_partition_fetches_its_own_completions_messages(self, emulator):
        models = ["gpt-4o-2024-08-06", "o3-mini-2025-01-31"]
        config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "models": models}
        catalog = configured_catalog({STREAM: "incremental", MESSAGES: "incremental"})

        run = run_in_process("read", config, catalog=catalog)

        chosen = {c["id"] for c in emulator.completions() if c["model"] in models}
        assert {r["id"] for r in run.records_of(STREAM)} == chosen
        assert delivered(run) == {key for key in expected(emulator) if key[0] in chosen}
        state = next(
            s for s in run.last_state if s["stream"]["stream_descriptor"]["name"] == MESSAGES
        )
        assert set(state["stream"]["stream_state"]["models"]) == set(models)
