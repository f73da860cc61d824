"""quickstart/python.py: which interpreter `make sync` installs the quick start with."""

from __future__ import annotations

import stat
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from quickstart import python as finder


def _fake_python(directory: Path, name: str, answer: str, exit_code: int = 0) -> None:
    """An executable named like an interpreter that prints what a real one would."""
    script = directory / name
    script.write_text(f"#!/bin/sh\necho '{answer}'\nexit {exit_code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def newer_python(monkeypatch, tmp_path):
    """This interpreter poses as 3.13, PATH holds only tmp_path, and pyenv is absent."""
    version = namedtuple("version_info", "major minor micro")(3, 13, 0)
    monkeypatch.setattr(finder.sys, "version_info", version)
    monkeypatch.setenv("PATH", str(tmp_path))
    return tmp_path


def test_a_supported_python3_is_used_itself(monkeypatch):
    version = namedtuple("version_info", "major minor micro")(3, 12, 1)
    monkeypatch.setattr(finder.sys, "version_info", version)

    assert finder.find() == sys.executable


def test_with_a_newer_python3_the_newest_supported_one_on_path_is_taken(newer_python):
    _fake_python(newer_python, "python3.12", "/opt/py312/bin/python3.12 3 12")
    _fake_python(newer_python, "python3.11", "/opt/py311/bin/python3.11 3 11")

    assert finder.find() == "/opt/py312/bin/python3.12"


def test_a_shim_that_does_not_run_is_passed_over(newer_python):
    _fake_python(newer_python, "python3.12", "pyenv: python3.12: command not found", 127)
    _fake_python(newer_python, "python3.11", "/opt/py311/bin/python3.11 3 11")

    assert finder.find() == "/opt/py311/bin/python3.11"


def test_without_any_it_says_what_to_install_and_exits_2(newer_python, capsys):
    assert finder.main([]) == 2
    message = capsys.readouterr().err
    assert "needs Python 3.11 or 3.12" in message
    assert "pyenv install 3.12" in message


def test_asked_for_a_version_it_prints_that_interpreter_whatever_the_quick_start_needs(
    newer_python, capsys
):
    _fake_python(newer_python, "python3.12", "/opt/py312/bin/python3.12 3 12")
    _fake_python(newer_python, "python3.14", "/opt/py314/bin/python3.14 3 14")

    assert finder.main(["3.14"]) == 0
    assert capsys.readouterr().out == "/opt/py314/bin/python3.14\n"


def test_asked_for_a_version_that_is_not_there_it_says_how_to_get_it(newer_python, capsys):
    assert finder.main(["3.10"]) == 2
    assert "pyenv install 3.10" in capsys.readouterr().err
