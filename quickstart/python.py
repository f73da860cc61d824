"""Print an interpreter the quick start can use: `make sync` runs this before anything is
installed, so it uses the standard library only.

PyAirbyte 0.71.3 (the quick start's warehouse client) needs Python < 3.13, while the connector
runs on 3.11 to 3.14. On a machine whose `python3` is newer, the quick start takes a 3.12 or 3.11
from PATH or from pyenv; it says so, and what to install, when there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

SUPPORTED = ((3, 11), (3, 12))


def _answers(candidate: str) -> str | None:
    """The interpreter's own path if it runs and is a supported version (pyenv's shims exist
    for every installed version but only run the selected ones)."""
    probe = "import sys; print(sys.executable, *sys.version_info[:2])"
    try:
        answer = subprocess.run(
            [candidate, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    if answer.returncode != 0 or not answer.stdout.strip():
        return None
    path, major, minor = answer.stdout.split()
    return path if (int(major), int(minor)) in SUPPORTED else None


def _pyenv_candidates() -> list[str]:
    if not shutil.which("pyenv"):
        return []
    found = []
    for major, minor in reversed(SUPPORTED):
        version = f"{major}.{minor}"
        latest = subprocess.run(
            ["pyenv", "latest", version], capture_output=True, text=True, check=False
        ).stdout.strip()
        prefix = subprocess.run(
            ["pyenv", "prefix", latest], capture_output=True, text=True, check=False
        ).stdout.strip()
        if latest and prefix:
            found.append(f"{prefix}/bin/python{version}")
    return found


def find() -> str | None:
    if sys.version_info[:2] in SUPPORTED:
        return sys.executable
    on_path = [f"python{major}.{minor}" for major, minor in reversed(SUPPORTED)]
    for candidate in [*on_path, *_pyenv_candidates()]:
        path = _answers(candidate)
        if path:
            return path
    return None


def main() -> int:
    path = find()
    if path is None:
        print(
            "quickstart: PyAirbyte, the quick start's DuckDB loader, needs Python 3.11 or 3.12 "
            f"and this python3 is {sys.version_info.major}.{sys.version_info.minor}; install "
            "one (for example `pyenv install 3.12`) or run `make sync PYTHON=python3.12`.",
            file=sys.stderr,
        )
        return 2
    if path != sys.executable:
        print(f"quickstart: using {path} (PyAirbyte needs Python < 3.13)", file=sys.stderr)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
