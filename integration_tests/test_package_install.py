"""The Dockerfile's install steps, reproduced in a fresh virtualenv (no Docker engine here)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import yaml

from integration_tests.harness import CONNECTOR_ROOT
from quickstart.python import find as find_python

# The uv that `make` bootstrapped (PyAirbyte pins an older uv, so it is not a dev dependency).
UV = shlex.split(os.environ.get("UV", "uv"))


def _run(*args: str, cwd: Path = CONNECTOR_ROOT, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# The Python of the Dockerfile's base image (python-connector-base 4.1.0; test_packaging.py
# pins the image).
IMAGE_PYTHON = "3.13"


def image_python() -> str:
    """An interpreter of the image's Python version: this one, one on PATH, or pyenv's."""
    major, minor = IMAGE_PYTHON.split(".")
    path = find_python(((int(major), int(minor)),))
    assert path, (
        f"this test installs under Python {IMAGE_PYTHON}, as the image does: install it "
        f"(pyenv install {IMAGE_PYTHON}) or put python{IMAGE_PYTHON} on PATH"
    )
    return path


def test_docker_install_steps_give_a_working_connector_without_dev_tools(tmp_path, config):
    venv = tmp_path / "venv"
    requirements = tmp_path / "requirements.txt"
    _run(*UV, "venv", "--quiet", "--python", image_python(), str(venv))
    python = str(venv / "bin" / "python")

    # The same commands as the Dockerfile's builder stage, into the venv instead of a prefix,
    # without `--compile-bytecode`: it only saves the image's first start the compiling, and uv
    # skips files that do not compile (a package with a syntax error installs with exit 0), so
    # it proves nothing a test can observe, for ~16 s of CPU. `spec` and `check` below import
    # everything the connector runs under the image's Python; `spec` writes the bytecode of
    # what it imports (whatever PYTHONDONTWRITEBYTECODE says), so `check` starts as it would
    # in the image, from compiled modules (1.5 s of CPU instead of 3.3).
    _run(
        *UV,
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--output-file",
        str(requirements),
    )
    _run(
        *UV,
        "pip",
        "install",
        "--python",
        python,
        "--require-hashes",
        "--requirement",
        str(requirements),
    )
    _run(*UV, "pip", "install", "--python", python, "--no-deps", ".")

    version = _run(python, "-c", "import sys; print(sys.version_info[:2])")
    assert version.strip() == str(tuple(int(part) for part in IMAGE_PYTHON.split(".")))
    cli = str(venv / "bin" / "source-openai-chat")
    compiling = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    spec_lines = _run(cli, "spec", env=compiling).splitlines()
    spec = [json.loads(line) for line in spec_lines if line.startswith("{")]
    assert any(m["type"] == "SPEC" for m in spec)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    check = [
        json.loads(line) for line in _run(cli, "check", "--config", str(config_file)).splitlines()
    ]
    statuses = [m["connectionStatus"]["status"] for m in check if m["type"] == "CONNECTION_STATUS"]
    assert statuses == ["SUCCEEDED"]
    # The schemas and their shared parts are package data: discover resolves them.
    discovered = _run(cli, "discover", "--config", str(config_file)).splitlines()
    catalog = next(json.loads(line)["catalog"] for line in discovered if '"CATALOG"' in line)
    usage = catalog["streams"][0]["json_schema"]["properties"]["usage"]
    assert usage["properties"]["prompt_tokens_details"]["properties"]["cached_tokens"]
    installed = _run(*UV, "pip", "list", "--python", python, "--format", "json")
    names = {package["name"] for package in json.loads(installed)}
    assert "source-openai-chat" in names
    assert not names & {"pytest", "requests-mock", "ruff", "airbyte"}


def test_the_install_test_uses_the_python_of_the_base_image_and_the_package_admits_it():
    # python-connector-base's Python by tag (Airbyte's image notes, shared/reference).
    pythons = {"4.0.2": "3.11", "4.1.0": "3.13"}
    tag = re.search(
        r":(\d+\.\d+\.\d+)@",
        yaml.safe_load((CONNECTOR_ROOT / "metadata.yaml").read_text())["data"][
            "connectorBuildOptions"
        ]["baseImage"],
    )

    assert tag
    assert pythons[tag.group(1)] == IMAGE_PYTHON
    assert (
        tomllib.loads((CONNECTOR_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
        == ">=3.11,<3.15"
    )
