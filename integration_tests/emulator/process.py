"""The emulator as its own process, for the quick start and the benchmarks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


class EmulatorDidNotStart(RuntimeError):
    """The process exited, or printed something else, before its `ready <url>` line."""


@contextmanager
def emulator_process(
    records: int,
    *,
    port: int = 0,
    latency_ms: float = 0,
    fault_rate: float = 0,
    clock_at_newest: bool = False,
) -> Iterator[str]:
    """Run `python -m integration_tests.emulator` on 127.0.0.1; yield its base URL."""
    args = [sys.executable, "-m", "integration_tests.emulator", "--records", str(records)]
    args += ["--port", str(port), "--latency-ms", str(latency_ms), "--fault-rate", str(fault_rate)]
    args += ["--clock-at-newest"] if clock_at_newest else []
    process = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        ready = process.stdout.readline() if process.stdout else ""
        if not ready.startswith("ready "):
            error = process.stderr.read().strip() if process.stderr else ""
            raise EmulatorDidNotStart(error or "no output")
        yield ready.split(" ", 1)[1].strip()
    finally:
        process.terminate()
        process.wait(timeout=30)
