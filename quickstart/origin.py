"""Where the quick start reads from: the real OpenAI API, or the bundled local emulator."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from integration_tests.emulator import TEST_ADMIN_KEY, TEST_API_KEY
from integration_tests.emulator.dataset import BASE_CREATED
from integration_tests.emulator.process import EmulatorDidNotStart, emulator_process

EMULATOR_BASE_RECORDS = 2000
# Each later run against the emulator simulates this much new traffic since the previous one.
EMULATOR_NEW_PER_RUN = 150


class QuickstartError(RuntimeError):
    """A problem the user can fix; printed as one line, exit code 2."""


@dataclass(frozen=True)
class Origin:
    description: str
    config: dict[str, Any]

    @property
    def is_demo(self) -> bool:
        return self.config.get("api_key") == TEST_API_KEY

    @property
    def identity(self) -> str:
        """Whose completions these are: the demo's, or one OpenAI organisation and project's.
        A DuckDB file holds one identity (its rows and its sync state would mix otherwise)."""
        if self.is_demo:
            return "the local emulator's demo completions"
        parts = [self.config.get("base_url") or "https://api.openai.com/v1"]
        parts += [f"{key} {self.config[key]}" for key in ("organization_id", "project_id")
                  if self.config.get(key)]  # fmt: skip
        return "completions from " + ", ".join(parts)


def real_api_config(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The connector config from OPENAI_* variables, or None without OPENAI_API_KEY."""
    key = env.get("OPENAI_API_KEY", "").strip()
    if not key:
        return None
    config: dict[str, Any] = {"api_key": key}
    optional = {
        "base_url": ("OPENAI_BASE_URL",),
        "organization_id": ("OPENAI_ORG_ID", "OPENAI_ORGANIZATION"),
        "project_id": ("OPENAI_PROJECT_ID", "OPENAI_PROJECT"),
        "start_date": ("OPENAI_START_DATE",),
        "admin_api_key": ("OPENAI_ADMIN_KEY",),
    }
    for field, names in optional.items():
        value = next((env[name] for name in names if env.get(name)), None)
        if value:
            config[field] = value
    return config


def emulator_records(existing_rows: int) -> int:
    """The emulator's dataset is deterministic and grows by a fixed amount per run."""
    if existing_rows < EMULATOR_BASE_RECORDS:
        return EMULATOR_BASE_RECORDS
    return existing_rows + EMULATOR_NEW_PER_RUN


@contextmanager
def running_emulator(port: int, records: int) -> Iterator[str]:
    """Start the bundled emulator on 127.0.0.1:port; yield its base URL."""
    _refuse_taken_port(port)
    try:
        with emulator_process(records, port=port, clock_at_newest=True) as base_url:
            yield base_url
    except EmulatorDidNotStart as error:
        raise QuickstartError(f"The local emulator did not start: {error}") from None


def _refuse_taken_port(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise QuickstartError(
                f"No OPENAI_API_KEY is set and the local emulator cannot start: port {port} on "
                "127.0.0.1 is in use. Set OPENAI_API_KEY to sync from OpenAI, or free the port "
                "(or pick another with QUICKSTART_PORT)."
            ) from None


def emulator_origin(base_url: str) -> Origin:
    return Origin(
        description=f"the local emulator at {base_url} (set OPENAI_API_KEY to sync from OpenAI)",
        config={
            "api_key": TEST_API_KEY,
            "base_url": base_url,
            "admin_api_key": TEST_ADMIN_KEY,  # the demo syncs projects, usage and costs too
            # The demo's completions are dated from 2026-01-01: usage and costs start there.
            "start_date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_CREATED)),
        },
    )


def environment() -> Mapping[str, str]:
    return os.environ
