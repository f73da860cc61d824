"""The files Airbyte's tooling reads agree with each other and with the package."""

from __future__ import annotations

import re
import tomllib
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
METADATA = yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_metadata_has_the_fields_airbyte_requires():
    required = {
        "name", "definitionId", "connectorType", "connectorSubtype", "dockerRepository",
        "dockerImageTag", "documentationUrl", "githubIssueLabel", "license", "releaseStage",
        "supportLevel", "tags", "connectorBuildOptions", "allowedHosts",
        "maxSecondsBetweenMessages",
    }  # fmt: skip

    assert required <= set(METADATA)
    assert METADATA["connectorType"] == "source"
    assert METADATA["connectorSubtype"] == "api"
    assert METADATA["dockerRepository"] == "airbyte/source-openai-chat"
    assert uuid.UUID(METADATA["definitionId"])
    assert {"language:python", "cdk:low-code"} <= set(METADATA["tags"])


def test_breaking_changes_when_listed_name_a_version_each():
    # Airbyte's metadata schema: `releases.breakingChanges` needs at least one X.Y.Z entry.
    breaking = (METADATA.get("releases") or {}).get("breakingChanges")
    assert breaking is None or (
        breaking and all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in breaking)
    )


def test_allowed_hosts_cover_openai_azure_and_any_configured_base_url():
    assert {"api.openai.com", "*.openai.azure.com", "${base_url}"} <= set(
        METADATA["allowedHosts"]["hosts"]
    )


def test_image_tag_is_the_package_version():
    assert METADATA["dockerImageTag"] == PYPROJECT["project"]["version"]


def test_base_image_is_pinned_by_digest_and_is_the_one_the_dockerfile_uses():
    base_image = METADATA["connectorBuildOptions"]["baseImage"]
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"@sha256:[0-9a-f]{64}$", base_image)
    assert f"ARG BASE_IMAGE={base_image}\n" in dockerfile


def test_dockerfile_runs_the_console_script_as_a_non_root_user():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert 'ENV AIRBYTE_ENTRYPOINT="source-openai-chat"' in dockerfile
    assert 'ENTRYPOINT ["source-openai-chat"]' in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert PYPROJECT["project"]["scripts"]["source-openai-chat"] == "source_openai_chat.run:run"


def test_changelog_lists_the_current_version():
    docs = (ROOT / "docs" / "openai-chat.md").read_text()

    assert f"| {PYPROJECT['project']['version']} " in docs
