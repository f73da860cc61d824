"""Azure OpenAI and OpenAI-compatible servers: URLs, auth headers, envelope differences."""

from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.entrypoint_wrapper import read
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from source_openai_chat import SourceOpenaiChat
from source_openai_chat.config import InvalidConfig, parse_config
from unit_tests.builders import API_KEY, ConfigBuilder, catalog, completion

AZURE = "https://my-resource.openai.azure.com/openai"


def _read(config):
    configured = catalog(SyncMode.full_refresh)
    return read(SourceOpenaiChat(), config, configured)


def _azure_page(records, **envelope) -> HttpResponse:
    body = {"object": "list", "data": records, "has_more": False, "total": len(records)}
    return HttpResponse(json.dumps({**body, **envelope}), 200)


def _ids(output) -> list[str]:
    return [r.record.data["id"] for r in output.records]


class TestAzure:
    @HttpMocker()
    def test_given_legacy_endpoint_when_read_then_api_version_and_api_key_header_are_sent(
        self, http_mocker
    ):
        http_mocker.get(
            HttpRequest(
                f"{AZURE}/chat/completions",
                query_params={"order": "desc", "limit": "100", "api-version": "2025-02-01-preview"},
                headers={"api-key": API_KEY},
            ),
            _azure_page([completion("c1", 1_767_225_600, object=None)]),
        )

        config = (
            ConfigBuilder()
            .with_(
                base_url=AZURE,
                api_provider={"provider": "azure", "api_version": "2025-02-01-preview"},
            )
            .build()
        )
        output = _read(config)

        assert _ids(output) == ["c1"]

    @HttpMocker()
    def test_given_v1_endpoint_when_read_then_no_api_version_and_no_bearer(self, http_mocker):
        http_mocker.get(
            HttpRequest(
                f"{AZURE}/v1/chat/completions",
                query_params={"order": "desc", "limit": "100"},
                headers={"api-key": API_KEY},
            ),
            # Azure may leave out first_id/last_id: paging falls back to the last item's id.
            _azure_page([completion("c1", 1_767_225_600)], has_more=False),
        )

        config = (
            ConfigBuilder()
            .with_(base_url=f"{AZURE}/v1", api_provider={"provider": "azure"})
            .build()
        )
        output = _read(config)

        assert _ids(output) == ["c1"]

    @HttpMocker()
    def test_given_azure_error_body_when_read_then_its_message_is_shown(self, http_mocker):
        body = {
            "error": {"code": "401", "message": "Access denied due to invalid subscription key."}
        }
        http_mocker.get(
            HttpRequest(
                f"{AZURE}/v1/chat/completions", query_params={"order": "desc", "limit": "100"}
            ),
            HttpResponse(json.dumps(body), 401),
        )

        config = (
            ConfigBuilder()
            .with_(base_url=f"{AZURE}/v1", api_provider={"provider": "azure"})
            .build()
        )
        error = _read(config).errors[0].trace.error

        assert error.failure_type == FailureType.config_error
        assert "Access denied due to invalid subscription key." in error.message


class TestCompatibleServer:
    @HttpMocker()
    def test_given_custom_auth_header_when_read_then_the_key_goes_there(self, http_mocker):
        http_mocker.get(
            HttpRequest(
                "https://llm-gateway.example.com/v1/chat/completions",
                query_params={"order": "desc", "limit": "100"},
                headers={"X-API-Key": API_KEY},
            ),
            _azure_page([completion("c1", 1_767_225_600)]),
        )

        provider = {"provider": "openai_compatible", "auth_header": "X-API-Key", "auth_prefix": ""}
        config = (
            ConfigBuilder()
            .with_(base_url="https://llm-gateway.example.com/v1", api_provider=provider)
            .build()
        )
        output = _read(config)

        assert _ids(output) == ["c1"]


class TestProviderConfig:
    def test_given_no_provider_when_parsed_then_it_is_openai(self):
        assert parse_config({"api_key": API_KEY}).api_provider.provider == "openai"

    def test_given_azure_without_its_endpoint_when_parsed_then_refused_naming_base_url(self):
        with pytest.raises(InvalidConfig, match="'base_url' must be your Azure endpoint"):
            parse_config({"api_key": API_KEY, "api_provider": {"provider": "azure"}})

    @pytest.mark.parametrize(
        ("provider", "field"),
        [
            ({"provider": "azure", "api_version": "yesterday"}, "api_provider.azure.api_version"),
            ({"provider": "bedrock"}, "api_provider"),
            (
                {"provider": "openai_compatible", "auth_header": "Bad Header"},
                "api_provider.openai_compatible.auth_header",
            ),
        ],
    )
    def test_given_bad_provider_values_when_parsed_then_refused_naming_the_field(
        self, provider, field
    ):
        config = {"api_key": API_KEY, "base_url": f"{AZURE}/v1", "api_provider": provider}

        with pytest.raises(InvalidConfig, match=f"'{field}'"):
            parse_config(config)
