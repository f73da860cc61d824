"""The installed console script, in a subprocess as Airbyte runs it: protocol lines on stdout,
exit codes, the excepthook's trace, nothing secret on either stream, SIGINT and SIGTERM.

Every other end-to-end rule runs the same code in-process (harness.run_in_process); these are
the few things only a real process shows. The quick start's tests run this script too (through
PyAirbyte); the kill-and-resume tests run its `run()` in processes forked from a fork server
(forked_cli.py), which a SIGKILL ends as it ends this script, and which the last test here
holds to this script's output and exit codes.
"""

from __future__ import annotations

import json
import signal
from collections import Counter

import pytest

from integration_tests.emulator import TEST_API_KEY, Emulator, generate
from integration_tests.harness import (
    FORK_SERVER,
    STREAM,
    configured_catalog,
    run_connector,
    run_in_process,
    run_until_killed,
    run_until_signalled,
)
from source_openai_chat.interrupt import interrupted_message

MESSAGES = "chat_completion_messages"
FULL_REFRESH = configured_catalog({STREAM: "full_refresh"})
BOTH = configured_catalog({STREAM: "incremental", MESSAGES: "incremental"})


def test_check_exits_0_when_the_key_is_refused(emulator, config):
    # `spec` and a check that succeeds run from the installed package: test_package_install.py
    run = run_connector("check", {**config, "api_key": "sk-wrong-0000000000000"})

    assert (run.exit_code, run.connection_status["status"]) == (0, "FAILED")
    assert "Incorrect API key provided" in run.connection_status["message"]


def test_read_prints_records_with_their_nulls_and_a_state_per_line(emulator, config):
    run = run_connector("read", config, catalog=FULL_REFRESH)

    assert run.exit_code == 0
    lines = [json.loads(line) for line in run.stdout.splitlines()]  # one message a line
    records = [line["record"]["data"] for line in lines if line["type"] == "RECORD"]
    assert sorted(r["id"] for r in records) == sorted(r["id"] for r in emulator.completions())
    assert any(value is None for record in records for value in record.values())
    assert run.states


def test_a_failed_read_exits_1_with_one_error_trace_and_no_key_anywhere(emulator, config):
    key = "sk-wrong-key-must-not-leak-0000"

    run = run_connector(
        "read", {**config, "api_key": key}, catalog=FULL_REFRESH, extra_args=("--debug",)
    )

    assert run.exit_code == 1
    assert run.errors[-1]["failure_type"] == "config_error"
    assert "Incorrect API key provided" in run.errors[-1]["message"]
    assert key not in run.stdout + run.stderr


def test_a_missing_input_file_exits_1_with_a_config_error_trace(tmp_path):
    missing = str(tmp_path / "config.json")

    run = run_connector("check", extra_args=("--config", missing))

    assert run.exit_code == 1
    assert run.errors[0]["failure_type"] == "config_error"
    assert f"The --config file {missing} does not exist" in run.errors[0]["message"]
    assert "Traceback" not in run.stderr


@FORK_SERVER
def test_a_forked_read_that_is_not_killed_ends_as_the_console_script_does(emulator, config):
    """The kill tests' forked runs (forked_cli.py) print and exit as this script would."""

    def never(state: dict) -> bool:
        return False

    finished = run_until_killed(config, catalog=FULL_REFRESH, kill_at=never)
    failed = run_until_killed(
        {**config, "api_key": "sk-wrong-0000000000000"}, catalog=FULL_REFRESH, kill_at=never
    )

    expected = run_in_process("read", config, catalog=FULL_REFRESH)
    assert finished.exit_code == 0
    assert sorted(r["id"] for r in finished.records) == sorted(r["id"] for r in expected.records)
    assert finished.last_state == expected.last_state
    assert failed.exit_code == 1
    assert failed.errors[-1]["failure_type"] == "config_error"


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_read_interrupted_mid_way_exits_at_once_and_its_last_state_resumes(signum, exit_code):
    """Ctrl-C (SIGINT) or a cancelled sync (SIGTERM) in the middle of a read of both streams,
    16 messages workers, a rate limit answering 429s: the process ends with 128 + the signal
    and one plain line on stderr, every line it printed is whole, and the last state it
    printed resumes the read with nothing lost."""
    with Emulator(generate(200), latency_s=0.02, rate_limit=60) as emulator:
        config = {"api_key": TEST_API_KEY, "base_url": emulator.base_url, "num_workers": 16}
        checkpoints = Counter()

        def mid_read_waiting_on_the_rate_limit(message: dict) -> bool:
            if message.get("type") == "STATE":
                checkpoints[message["state"]["stream"]["stream_descriptor"]["name"]] += 1
            return checkpoints[MESSAGES] >= 2 and emulator.rate_limited > 0

        run = run_until_signalled(
            config, signum, catalog=BOTH, send_at=mid_read_waiting_on_the_rate_limit, timeout=10
        )
        emulator.rate_limit = None  # the resumed read need not wait
        resumed = run_in_process("read", config, catalog=BOTH, state=run.last_state)
        completions = emulator.completions()
        with_messages = {c["id"] for c in completions if emulator.store.messages[c["id"]]}

    assert run.exit_code == exit_code
    assert run.stderr == interrupted_message(signum, reading=True)  # one line, no traceback
    assert all(json.loads(line) for line in run.stdout.splitlines())  # no line cut short
    assert run.stdout.endswith("\n")
    assert resumed.exit_code == 0
    both = run.records_of(STREAM) + resumed.records_of(STREAM)
    assert {r["id"] for r in both} == {c["id"] for c in completions}
    messages = run.records_of(MESSAGES) + resumed.records_of(MESSAGES)
    assert {m["completion_id"] for m in messages} == with_messages
    # It resumed where the interrupted read stopped, not from the start.
    resumed_ids = {m["completion_id"] for m in resumed.records_of(MESSAGES)}
    assert {m["completion_id"] for m in run.records_of(MESSAGES)} - resumed_ids
