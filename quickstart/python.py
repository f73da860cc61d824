"""Print an interpreter of a given Python version, found on PATH or through pyenv. Standard
library only: `make sync` and CI run it before anything is installed.

    python3 quickstart/python.py          # one the quick start can use: 3.12 or 3.11
    python3 quickstart/python.py 3.13     # the image's Python (CI, the install test)

PyAirbyte 0.71.3 (the quick start's warehouse client) needs Python < 3.13, while the connector
runs on 3.11 to 3.14. On a machine whose `python3` is newer, the quick start takes a 3.12 or 3.11
from PATH or from pyenv; it says so, and what to install, when there is none.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

Version = tuple[int, int]

SUPPORTED: tuple[Version, ...] = ((3, 11), (3, 12))  # by the quick start's PyAirbyte


def _answers(candidate: str, versions: tuple[Version, ...]) -> str | None:
    """The interpreter's own path if it runs and is one of `versions` (pyenv's shims exist for
    every installed version but only run the selected ones)."""
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
    return path if (int(major), int(minor)) in versions else None


def _pyenv_candidates(versions: tuple[Version, ...]) -> list[str]:
    if not shutil.which("pyenv"):
        return []
    found = []
    for major, minor in versions:
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


def find(versions: tuple[Version, ...] = SUPPORTED) -> str | None:
    """This interpreter if it is one of `versions`, else the newest of them on PATH or pyenv's."""
    if sys.version_info[:2] in versions:
        return sys.executable
    newest_first = tuple(sorted(versions, reverse=True))
    on_path = [f"python{major}.{minor}" for major, minor in newest_first]
    for candidate in [*on_path, *_pyenv_candidates(newest_first)]:
        path = _answers(candidate, versions)
        if path:
            return path
    return None


def main(argv: list[str] | None = None) -> int:
    asked = argv if argv is not None else sys.argv[1:]
    versions = tuple(_version(text) for text in asked) or SUPPORTED
    path = find(versions)
    if path is None:
        if asked:
            names = " or ".join(asked)
            print(f"No Python {names} here: install it (for example `pyenv install {asked[0]}`) "
                  f"or put python{asked[0]} on PATH.", file=sys.stderr)  # fmt: skip
        else:
            print(
                "quickstart: PyAirbyte, the quick start's DuckDB loader, needs Python 3.11 or "
                f"3.12 and this python3 is {sys.version_info.major}.{sys.version_info.minor}; "
                "install one (for example `pyenv install 3.12`) or run "
                "`make sync PYTHON=python3.12`.",
                file=sys.stderr,
            )
        return 2
    if path != sys.executable and not asked:
        print(f"quickstart: using {path} (PyAirbyte needs Python < 3.13)", file=sys.stderr)
    print(path)
    return 0


def _version(text: str) -> Version:
    major, minor = text.split(".")
    return int(major), int(minor)


if __name__ == "__main__":
    sys.exit(main())
