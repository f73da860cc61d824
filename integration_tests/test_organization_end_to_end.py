"""Several projects in one connection, and the organization's projects, usage and costs with an
admin key, against the emulator (in-process: harness.run_in_process; kills: forked_cli)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from integration_tests.emulator import (
    DEFAULT_PROJECT,
    TEST_ADMIN_KEY,
    TEST_API_KEY,
    Emulator,
    Request,
    generate,
)
from integration_tests.harness import (
    FORK_SERVER,
    STREAM,
    configured_catalog,
    run_in_process,
    run_until_killed,
)

MESSAGES = "chat_completion_messages"
PROJECT_KEY_B = "sk-proj-test-emulator-b-0000000000"  # a key of proj_b alone
START_DATE = "2026-01-01T00:00:00Z"
DAY = 86_400
USAGE_DIMENSIONS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
COSTS_DIMENSIONS = ("project_id", "line_item", "api_key_id")
ORGANIZATION = configured_catalog(
    {"projects": "full_refresh", "usage_completions": "incremental", "costs": "incremental"}
)


@pytest.fixture
def organization() -> Any:
    """Three projects: the default one (not configured below), proj_a and proj_b."""
    projects = {"proj_a": generate(60, seed=1), "proj_b": generate(40, seed=2)}
    with Emulator(
        generate(30, seed=3), projects=projects, project_keys={PROJECT_KEY_B: "proj_b"}
    ) as running:
        yield running


def _config(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    return {
        "api_key": TEST_API_KEY,
        "base_url": emulator.base_url,
        "start_date": START_DATE,
        "projects": [{"project_id": "proj_a"}, {"project_id": "proj_b", "api_key": PROJECT_KEY_B}],
        **extra,
    }


def _by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {record["id"]: record for record in records}


def test_each_projects_completions_and_messages_exactly_with_their_project(organization):
    both = configured_catalog({STREAM: "full_refresh", MESSAGES: "full_refresh"})

    run = run_in_process("read", _config(organization), catalog=both)

    assert run.exit_code == 0, run.errors
    expected = {
        record["id"]: {**record, "project_id": project}
        for project in ("proj_a", "proj_b")
        for record in organization.completions(project)
    }
    assert _by_id(run.records_of(STREAM)) == expected  # the default project's are not read
    messages = {(m["completion_id"], m["id"]): m["project_id"] for m in run.records_of(MESSAGES)}
    assert messages == {
        (completion_id, message["id"]): project
        for project in ("proj_a", "proj_b")
        for completion_id, listed in organization.stores[project].messages.items()
        for message in listed
    }
    # proj_b's requests carried its own key; every request named its project.
    for request in organization.list_requests():
        named = request.headers["openai-project"]
        assert (request.headers["authorization"] == f"Bearer {PROJECT_KEY_B}") == (
            named == "proj_b"
        )
    state = run.last_state[0]["stream"]["stream_state"]
    assert set(state["projects"]) == {"proj_a", "proj_b"}
    assert PROJECT_KEY_B not in run.stdout


@FORK_SERVER
def test_several_projects_killed_and_resumed_lose_nothing(organization):
    config = _config(organization, page_size=7)
    catalog = configured_catalog({STREAM: "incremental"})
    killed = run_until_killed(config, catalog=catalog, kill_after_states=5)
    assert killed.exit_code != 0, "the read ended before it was killed"

    resumed = run_in_process("read", config, catalog=catalog, state=killed.last_state)

    assert resumed.exit_code == 0, resumed.errors
    delivered = {(r["project_id"], r["id"]) for r in killed.records + resumed.records}
    assert delivered == {
        (project, record["id"])
        for project in ("proj_a", "proj_b")
        for record in organization.completions(project)
    }


def _expected(
    emulator: Emulator, path: str, query: list[tuple[str, str]], dimensions: tuple[str, ...]
) -> list[dict[str, Any]]:
    records = []
    for bucket in emulator.buckets(path, query):
        for result in bucket["results"]:
            record = {**result, "start_time": bucket["start_time"], "end_time": bucket["end_time"]}
            for name in dimensions:  # no null primary-key part
                if record[name] is None:
                    record[name] = False if name == "batch" else ""
            records.append(record)
    return records


def _key(dimensions: tuple[str, ...]) -> Any:
    return lambda record: tuple(str(record[name]) for name in ("start_time", *dimensions))


def test_projects_usage_and_costs_equal_the_emulators_grouped_by_every_dimension(organization):
    run = run_in_process(
        "read", _config(organization, admin_api_key=TEST_ADMIN_KEY), catalog=ORGANIZATION
    )

    assert run.exit_code == 0, run.errors
    start = [("start_time", "1767225600")]
    usage = _expected(
        organization,
        "usage/completions",
        [*start, ("bucket_width", "1d"), *(("group_by", d) for d in USAGE_DIMENSIONS)],
        USAGE_DIMENSIONS,
    )
    costs = _expected(
        organization,
        "costs",
        [*start, *(("group_by", d) for d in COSTS_DIMENSIONS)],
        COSTS_DIMENSIONS,
    )
    assert len(usage) > 10
    assert len(costs) > 10
    assert sorted(run.records_of("usage_completions"), key=_key(USAGE_DIMENSIONS)) == sorted(
        usage, key=_key(USAGE_DIMENSIONS)
    )
    assert sorted(run.records_of("costs"), key=_key(COSTS_DIMENSIONS)) == sorted(
        costs, key=_key(COSTS_DIMENSIONS)
    )
    # Usage counts every project, the default one too, and the traffic that was not stored.
    assert {r["project_id"] for r in usage} == {DEFAULT_PROJECT, "proj_a", "proj_b"}
    projects = {p["id"]: p["status"] for p in run.records_of("projects")}
    assert projects == {DEFAULT_PROJECT: "active", "proj_a": "active", "proj_b": "active",
                        "proj_archived": "archived"}  # fmt: skip
    today = int(time.time()) // DAY * DAY
    newest = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"]
              for s in run.last_state}  # fmt: skip
    assert newest["usage_completions"] == {"start_time": today}  # today's bucket was read


def test_a_revised_bucket_inside_the_lookback_is_delivered_again_and_older_ones_are_not(
    organization,
):
    config = _config(organization, admin_api_key=TEST_ADMIN_KEY, usage_lookback_days=3)
    catalog = configured_catalog({"usage_completions": "incremental"})
    first = run_in_process("read", config, catalog=catalog)
    assert first.exit_code == 0, first.errors
    yesterday = int(time.time()) // DAY * DAY - DAY
    organization.add_unstored(
        Request(yesterday + 60, "proj_a", "user-9", "key_proj_a", "gpt-4o-2024-08-06",
                "default", 5_000, 700, 0)
    )  # fmt: skip

    second = run_in_process("read", config, catalog=catalog, state=first.last_state)

    assert second.exit_code == 0, second.errors
    revised = [r for r in second.records_of("usage_completions") if r["user_id"] == "user-9"]
    assert [(r["start_time"], r["input_tokens"], r["output_tokens"]) for r in revised] == [
        (yesterday, 5_000, 700)
    ]
    # The second sync re-read only the lookback window, not the history.
    assert min(r["start_time"] for r in second.records_of("usage_completions")) >= (
        yesterday + DAY - 3 * DAY
    )
    assert len(second.records_of("usage_completions")) < len(first.records_of("usage_completions"))


def test_a_key_the_organization_endpoints_refuse_fails_the_check_naming_admin_api_key():
    # An sk-admin- key the API knows as a project key: OpenAI answers 401 "Missing scopes".
    not_admin = "sk-admin-not-an-admin-key-0000"
    with Emulator(generate(5), project_keys={not_admin: DEFAULT_PROJECT}) as server:
        config = {"api_key": TEST_API_KEY, "base_url": server.base_url, "admin_api_key": not_admin}

        check = run_in_process("check", config)

    assert check.connection_status["status"] == "FAILED"
    message = check.connection_status["message"]
    assert message.startswith("The API refused the admin API key (HTTP 401)")
    assert "Missing scopes: api.usage.read" in message
    assert "'admin_api_key' must be an organization admin key" in message
    assert not_admin not in check.stdout


@pytest.mark.parametrize(
    ("field", "key", "said"),
    [
        ("admin_api_key", "sk-proj-abc123", "'admin_api_key' must be an organization admin key"),
        ("api_key", "sk-admin-abc123", "'api_key' is an organization admin key"),
    ],
)
def test_a_key_in_the_wrong_field_is_refused_by_field_with_what_to_do(
    organization, field, key, said
):
    config = {"api_key": TEST_API_KEY, "base_url": organization.base_url, field: key}

    check = run_in_process("check", config)

    assert check.connection_status["status"] == "FAILED"
    assert said in check.connection_status["message"]
    assert key not in check.stdout
    assert organization.requests == []  # refused before any request


def test_check_names_the_project_that_fails(organization):
    config = _config(organization)
    config["projects"].append({"project_id": "proj_gone"})

    check = run_in_process("check", config)

    assert check.connection_status["status"] == "FAILED"
    assert check.connection_status["message"].startswith("Project proj_gone: ")


def test_discover_with_an_admin_key_adds_the_organizations_streams(organization):
    run = run_in_process("discover", _config(organization, admin_api_key=TEST_ADMIN_KEY))

    streams = {s["name"]: s for s in run.catalog["streams"]}
    assert set(streams) == {STREAM, MESSAGES, "projects", "usage_completions", "costs"}
    assert streams["projects"]["supported_sync_modes"] == ["full_refresh"]
    assert streams["costs"]["source_defined_primary_key"] == [
        ["start_time"],
        ["project_id"],
        ["line_item"],
        ["api_key_id"],
    ]
    assert streams["usage_completions"]["default_cursor_field"] == ["start_time"]
