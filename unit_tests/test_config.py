"""The typed config: every bad value is refused with the field's name, never its value."""

from __future__ import annotations

import pytest

from source_openai_chat.config import InvalidConfig, parse_config, redact_url

KEY = "sk-test-config-0000000000"


def _refusal(**values) -> str:
    with pytest.raises(InvalidConfig) as refused:
        parse_config({"api_key": KEY, **values})
    return str(refused.value)


def test_given_minimal_config_when_parsed_then_defaults_apply():
    config = parse_config({"api_key": KEY})

    assert config.base_url == "https://api.openai.com/v1"
    assert (config.page_size, config.lookback_window_minutes, config.max_retries) == (100, 60, 5)


def test_given_no_api_key_when_parsed_then_refused_naming_api_key():
    with pytest.raises(InvalidConfig, match="'api_key' is required"):
        parse_config({})


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"api_key": "  "}, "api_key"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": "50"}, "page_size"),
        ({"lookback_window_minutes": -1}, "lookback_window_minutes"),
        ({"max_retries": 21}, "max_retries"),
        ({"max_retry_seconds": 0}, "max_retry_seconds"),
        ({"start_date": "2026-01-01"}, "start_date"),
        ({"start_date": "2026-13-01T00:00:00Z"}, "start_date"),
        ({"base_url": "ftp://api.openai.com/v1"}, "base_url"),
        ({"base_url": "api.openai.com/v1"}, "base_url"),
        ({"base_url": "http://api.openai.com/v1"}, "base_url"),
        ({"models": ["gpt-4o", ""]}, "models"),
        ({"metadata_filter": [{"key": "", "value": "x"}]}, "metadata_filter.0.key"),
        ({"metadata_filter": [{"key": "team"}]}, "metadata_filter.0.value"),
        ({"api_key": KEY + "\n"}, "api_key"),
        (
            {"api_provider": {"provider": "openai_compatible", "auth_prefix": "Bearer\r\n"}},
            "api_provider.openai_compatible.auth_prefix",
        ),
    ],
)
def test_given_bad_value_when_parsed_then_message_names_the_field(values, field):
    assert f"'{field}'" in _refusal(**values)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v1", "http://localhost/v1", "http://[::1]:9/v1"]
)
def test_given_plain_http_to_loopback_when_parsed_then_accepted(url):
    assert parse_config({"api_key": KEY, "base_url": url}).base_url == url


def test_given_secret_in_wrong_field_when_refused_then_value_is_not_echoed():
    message = _refusal(page_size="sk-secret-pasted-here", base_url="sk-secret-pasted-here")

    assert "sk-secret-pasted-here" not in message
    assert "'page_size'" in message
    assert "'base_url'" in message


def test_given_config_that_is_not_an_object_when_parsed_then_refused():
    with pytest.raises(InvalidConfig, match="JSON object"):
        parse_config(["api_key"])


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:s3cret@proxy.example.com/v1", "https://***@proxy.example.com/v1"),
        ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ],
)
def test_a_base_url_is_shown_without_its_credentials(url, shown):
    assert redact_url(url) == shown


def test_check_names_an_unreachable_base_url_without_its_credentials():
    import logging

    from source_openai_chat import SourceOpenaiChat

    config = {"api_key": KEY, "base_url": "http://proxy-user:s3cret@127.0.0.1:9/v1"}

    status = SourceOpenaiChat().check(logging.getLogger("test"), config)

    assert "base_url http://***@127.0.0.1:9/v1" in status.message
    assert "s3cret" not in status.message


def test_a_projects_own_key_is_masked_like_the_connections_key():
    """The CDK masks the spec's secrets in everything it prints, but not inside arrays."""
    import logging

    from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

    from source_openai_chat import SourceOpenaiChat

    own = "sk-proj-own-key-of-a-project-0000"
    config = {"api_key": KEY, "projects": [{"project_id": "proj_a", "api_key": own}]}

    SourceOpenaiChat().discover(logging.getLogger("test"), config)

    assert own not in filter_secrets(f"a line with {own} in it")


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"admin_api_key": "sk-proj-1"}, "'admin_api_key' must be an organization admin key"),
        ({"api_key": "sk-admin-1"}, "'api_key' is an organization admin key"),
        ({"projects": [{"project_id": "p", "api_key": "sk-admin-1"}]},
         "'projects.0.api_key' is an organization admin key"),
        ({"projects": [{"project_id": "p"}, {"project_id": "p"}]},
         "'projects' must not name a project twice"),
        ({"project_id": "p", "projects": [{"project_id": "q"}]},
         "set either 'project_id' (one project) or 'projects' (several)"),
        ({"usage_bucket_width": "1m"}, "'usage_bucket_width'"),
    ],
)  # fmt: skip
def test_keys_and_projects_in_the_wrong_place_are_refused_naming_the_field(values, said):
    assert said in _refusal(**values)
