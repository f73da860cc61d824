"""Run the connector as Airbyte does and parse what it prints.

`run_connector` runs the installed `source-openai-chat` CLI in a subprocess: what proves the
console script, stdout and exit codes. `run_until_killed` runs the script's `run()` in a
process of its own, forked from one that imported the connector already (forked_cli.py), and
kills it with SIGKILL. `run_in_process` runs the very same code path (`run.protocol_lines`:
input files, source, entrypoint, record writer) in this process, against the same emulator
over HTTP, without the 1.5-2.5 s an interpreter takes to import the CDK; an exception that
would reach the console script's excepthook becomes the same FATAL log line, TRACE message and
exit code 1.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
STREAM = "chat_completions"
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


# Both orders a list may give completions created in the same second (OpenAI documents none),
# for tests that use the `emulator` fixture.
TIE_ORDERS = pytest.mark.parametrize(
    "emulator",
    [{}, {"shuffle_ties": True}],
    indirect=True,
    ids=["ties-by-arrival", "ties-shuffled"],
)


# For the tests that kill a read (run_until_killed): on one xdist worker, which starts one fork
# server (2-2.5 s of CPU to import the connector) instead of one per worker.
FORK_SERVER = pytest.mark.xdist_group("fork-server")


def cli_path() -> str:
    """The console script installed beside the running interpreter (the project's venv)."""
    candidate = Path(sys.executable).parent / "source-openai-chat"
    return str(candidate) if candidate.exists() else shutil.which("source-openai-chat") or ""


@dataclass
class ConnectorRun:
    """The Airbyte messages of one CLI run, by type."""

    exit_code: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == type_]

    @property
    def records(self) -> list[dict[str, Any]]:
        return [m["record"]["data"] for m in self.of_type("RECORD")]

    def records_of(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"]["data"] for m in self.of_type("RECORD") if m["record"]["stream"] == stream
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    @property
    def last_state(self) -> list[dict[str, Any]]:
        """The latest state per stream, as the platform would pass it to the next sync."""
        latest: dict[str, dict[str, Any]] = {}
        for state in self.states:
            latest[state["stream"]["stream_descriptor"]["name"]] = state
        return list(latest.values())

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [m["trace"]["error"] for m in self.of_type("TRACE") if m["trace"]["type"] == "ERROR"]

    @property
    def connection_status(self) -> dict[str, Any]:
        return self.of_type("CONNECTION_STATUS")[0]["connectionStatus"]

    @property
    def catalog(self) -> dict[str, Any]:
        return self.of_type("CATALOG")[0]["catalog"]

    @property
    def logs(self) -> list[str]:
        return [m["log"]["message"] for m in self.of_type("LOG")]


def assert_finished(state: dict[str, Any], completions: list[dict[str, Any]], newest: int) -> None:
    """A finished sync's state: the floor at `newest` and, as the anchor the next sync reads
    upward after, a completion created in that second."""
    created_of = {record["id"]: record["created"] for record in completions}
    assert state == {"state_version": 3, "created": str(newest), "anchor": state.get("anchor")}
    assert created_of.get(state["anchor"]) == newest


def configured_catalog(
    streams: dict[str, str] | None = None, catalog: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A configured catalog from a discovered one: {stream: "full_refresh" | "incremental"}."""
    streams = streams or {STREAM: "incremental"}
    discovered = {s["name"]: s for s in (catalog or {}).get("streams", [])}
    configured = []
    for name, mode in streams.items():
        stream = discovered.get(name) or {
            "name": name,
            "json_schema": {},
            "supported_sync_modes": ["full_refresh", "incremental"],
        }
        configured.append(
            {
                "stream": stream,
                "sync_mode": mode,
                "destination_sync_mode": "append_dedup" if mode == "incremental" else "overwrite",
                "cursor_field": ["created"] if mode == "incremental" else None,
                "primary_key": [["id"]],
            }
        )
    return {"streams": configured}


def run_connector(
    verb: str,
    config: dict[str, Any] | None = None,
    *,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    extra_args: tuple[str, ...] = (),
    timeout: float = 300,
) -> ConnectorRun:
    """Run one verb of the CLI in a subprocess, with files as Airbyte passes them."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [cli_path(), verb, *extra_args, *_input_files(tmp, config, catalog, state)]
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=ENV, check=False
        )
    return ConnectorRun(done.returncode, done.stdout, done.stderr, _parse(done.stdout))


def run_in_process(
    verb: str,
    config: dict[str, Any] | None = None,
    *,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    extra_args: tuple[str, ...] = (),
) -> ConnectorRun:
    """Run one verb in this process, with files as Airbyte passes them (see the module doc)."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.exception_handler import assemble_uncaught_exception
    from airbyte_cdk.logger import AirbyteLogFormatter

    from source_openai_chat.run import protocol_lines

    logs, stray = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setFormatter(AirbyteLogFormatter())
    # The CDK logs through "airbyte" to the root's handler, which writes to the real stdout:
    # ours replaces it. PyAirbyte (the quick start's tests) gives "airbyte" handlers of its own
    # and stops it propagating: undone for the run.
    loggers = [logging.getLogger(), logging.getLogger("airbyte")]
    saved = [(logger.level, logger.handlers[:], logger.propagate) for logger in loggers]
    loggers[0].handlers = [handler]
    loggers[1].handlers, loggers[1].propagate = [], True
    lines: list[str] = []
    exit_code = 0
    with tempfile.TemporaryDirectory() as tmp:
        args = [verb, *extra_args, *_input_files(tmp, config, catalog, state)]
        try:
            with contextlib.redirect_stdout(stray), contextlib.redirect_stderr(stray):
                for line in protocol_lines(args):
                    lines.append(line)
        except SystemExit as exit_:
            exit_code = int(exit_.code or 0)
        except Exception as error:  # what the CDK's excepthook does in the console script
            exit_code = 1
            logging.getLogger("airbyte").fatal(error, exc_info=error)
            traced = assemble_uncaught_exception(type(error), error)
            lines.append(AirbyteEntrypoint.airbyte_message_to_string(traced.as_airbyte_message()))
        finally:
            for logger, (level, handlers, propagate) in zip(loggers, saved, strict=True):
                logger.setLevel(level)
                logger.handlers, logger.propagate = handlers, propagate
    stdout = "\n".join([*lines, *logs.getvalue().splitlines()])
    return ConnectorRun(exit_code, stdout, stray.getvalue(), _parse(stdout))


def run_in_process_within(
    seconds: float, verb: str, config: dict[str, Any], **inputs: Any
) -> ConnectorRun:
    """`run_in_process`, failing the test if the run has not ended after `seconds`: for the
    guards against endless paging, whose regression would otherwise hang the suite. (The run
    goes on in its daemon thread until the test process ends.)"""
    finished: list[ConnectorRun] = []
    worker = threading.Thread(
        target=lambda: finished.append(run_in_process(verb, config, **inputs)), daemon=True
    )
    worker.start()
    worker.join(seconds)
    assert finished, f"`{verb}` was still running after {seconds} s: is it looping?"
    return finished[0]


def run_until_killed(
    config: dict[str, Any],
    *,
    catalog: dict[str, Any],
    state: list[dict[str, Any]] | None = None,
    kill_after_states: int = 0,
    kill_at: Callable[[dict[str, Any]], bool] | None = None,
    timeout: float = 300,
) -> ConnectorRun:
    """`read` in a process of its own (forked_cli.py), killed with SIGKILL as soon as it has
    printed `kill_after_states` STATE messages (or, with `kill_at`, the first STATE message
    whose `state` it accepts): a sync that dies mid-way. Everything it printed before dying is
    kept, as the platform would have received it."""
    from integration_tests import forked_cli

    with tempfile.TemporaryDirectory() as tmp:
        process, stdout = forked_cli.start(["read", *_input_files(tmp, config, catalog, state)])
        with stdout, stdout.makefile(encoding="utf-8") as lines_out:
            lines, states = [], 0
            for line in lines_out:
                lines.append(line)
                parsed = _parse(line)
                message = parsed[0] if parsed else {}
                if message.get("type") == "STATE":
                    states += 1
                    if states == kill_after_states or (kill_at and kill_at(message["state"])):
                        process.kill()
                        break
            lines.extend(lines_out.read().splitlines(keepends=True))
        process.join(timeout)
    assert process.exitcode is not None, f"the killed `read` was still running after {timeout} s"
    stdout_text = "".join(lines)
    return ConnectorRun(process.exitcode, stdout_text, "", _parse(stdout_text))


@dataclass
class SignalledRun(ConnectorRun):
    """A run stopped by a signal, and how long it took to end once sent."""

    seconds_to_exit: float = 0.0


def run_until_signalled(
    config: dict[str, Any],
    signum: int,
    *,
    catalog: dict[str, Any],
    send_at: Callable[[dict[str, Any]], bool],
    state: list[dict[str, Any]] | None = None,
    timeout: float = 60,
) -> SignalledRun:
    """`read` by the installed CLI in a subprocess, sent `signum` as soon as it has printed a
    message that `send_at` accepts (a person pressing Ctrl-C, or the platform cancelling a
    sync), then read to its end. The run fails the test if it has not ended `timeout` seconds
    after the signal: a read that cannot be stopped hangs otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [cli_path(), "read", *_input_files(tmp, config, catalog, state)]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
        )
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            parsed = _parse(line)
            if parsed and send_at(parsed[0]):
                break
        sent = time.monotonic()
        process.send_signal(signum)
        watchdog = threading.Timer(timeout, process.kill)  # a read that would not stop
        watchdog.start()
        # Through the same reader: `communicate` would skip what it has read ahead.
        rest = process.stdout.read()
        seconds = time.monotonic() - sent
        watchdog.cancel()
        stderr = process.stderr.read() if process.stderr else ""
        process.wait()
        if process.returncode == -9:
            pytest.fail(f"`read` was still running {timeout} s after signal {signum}")
    stdout = "".join(lines) + rest
    return SignalledRun(process.returncode, stdout, stderr, _parse(stdout), seconds)


def _input_files(tmp: str, *contents: Any) -> list[str]:
    """`--config/--catalog/--state FILE` for the contents given (None: left out)."""
    args = []
    for name, content in zip(("config", "catalog", "state"), contents, strict=True):
        if content is not None:
            path = Path(tmp, f"{name}.json")
            path.write_text(json.dumps(content))
            args += [f"--{name}", str(path)]
    return args


def _parse(stdout: str) -> list[dict[str, Any]]:
    messages = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                messages.append(json.loads(line))
    return messages
