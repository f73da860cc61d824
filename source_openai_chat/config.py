"""The connector's config as a typed model, so every bad value is refused by field name.

The spec's JSON schema draws the form and the CDK validates against it, but its messages do not
name the field ("0 is less than the minimum of 1") and it cannot express rules such as "plain
http only to loopback hosts". Errors here never echo a value: a key pasted into the wrong field
must not end up in a log.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_LOOKBACK_MINUTES = 60
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"


class InvalidConfig(ValueError):
    """A config the connector refuses; the message names the field(s)."""


class MetadataPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=64)
    value: str = Field(max_length=512)


class OpenAIProvider(BaseModel):
    provider: Literal["openai"]


class AzureProvider(BaseModel):
    provider: Literal["azure"]
    api_version: str | None = Field(
        default=None, pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?)?$"
    )


class CompatibleProvider(BaseModel):
    provider: Literal["openai_compatible"]
    auth_header: str = Field(default="Authorization", min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    auth_prefix: str = "Bearer "

    @field_validator("auth_prefix")
    @classmethod
    def _prefix_fits_in_a_header(cls, value: str) -> str:
        return _fits_in_a_header(value)


ApiProvider = Annotated[
    OpenAIProvider | AzureProvider | CompatibleProvider, Field(discriminator="provider")
]


class OpenAIChatConfig(BaseModel):
    """Mirrors `spec.connection_specification` in manifest.yaml (a unit test keeps them equal)."""

    model_config = ConfigDict(extra="allow")

    api_key: str = Field(min_length=1)
    api_provider: ApiProvider = Field(
        default=OpenAIProvider(provider="openai"), json_schema_extra={"type": "object"}
    )
    base_url: str = Field(default=DEFAULT_BASE_URL, pattern=r"^https?://[^\s/]+.*$")
    organization_id: str | None = None
    project_id: str | None = None
    start_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    lookback_window_minutes: int = Field(default=DEFAULT_LOOKBACK_MINUTES, ge=0, strict=True)
    page_size: int = Field(default=100, ge=1, le=100, strict=True)
    max_retries: int = Field(default=5, ge=0, le=20, strict=True)
    max_retry_seconds: int = Field(default=600, ge=1, le=86400, strict=True)
    num_workers: int = Field(default=8, ge=1, le=32, strict=True)
    max_requests_per_second: float | None = Field(default=None, gt=0, le=10000)
    models: list[str] | None = Field(default=None, json_schema_extra={"uniqueItems": True})
    metadata_filter: list[MetadataPair] | None = None

    @field_validator("api_key")
    @classmethod
    def _key_is_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return _fits_in_a_header(value)

    # "before": these rules word the refusal better than the field's pattern would.
    @field_validator("base_url", mode="before")
    @classmethod
    def _url_is_safe(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http(s) URL such as https://api.openai.com/v1")
        if url.scheme == "http" and not _is_loopback(url.hostname):
            raise ValueError(
                "plain http:// is only allowed for loopback hosts (127.0.0.1, localhost); "
                "use https:// so the API key is not sent in clear"
            )
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _date_has_the_format(cls, value: Any) -> Any:
        if value == "":  # the form's empty field: no start date
            return None
        if isinstance(value, str):
            try:
                if not re.fullmatch(DATE_PATTERN, value):
                    raise ValueError
                datetime.strptime(value, DATE_FORMAT)
            except ValueError:
                raise ValueError(
                    "must look like 2026-01-31T00:00:00Z (YYYY-MM-DDTHH:MM:SSZ)"
                ) from None
        return value

    @model_validator(mode="after")
    def _azure_has_its_endpoint(self) -> OpenAIChatConfig:
        if isinstance(self.api_provider, AzureProvider) and self.base_url == DEFAULT_BASE_URL:
            raise ValueError(
                "'base_url' must be your Azure endpoint, such as "
                "https://RESOURCE.openai.azure.com/openai/v1, when 'api_provider' is Azure OpenAI"
            )
        return self

    @field_validator("models")
    @classmethod
    def _models_are_names(cls, value: list[str] | None) -> list[str] | None:
        if value and any(not name.strip() for name in value):
            raise ValueError("must not contain an empty model name")
        if value and len(set(value)) != len(value):
            raise ValueError("must not name a model twice")
        return value


def _fits_in_a_header(value: str) -> str:
    """A line break or other control character cannot be sent in an HTTP header (a key pasted
    with its newline); requests would fail later with a message that names no field."""
    if any(
        (ord(character) < 32 and character != "\t") or ord(character) == 127 for character in value
    ):
        raise ValueError("must not contain line breaks or other control characters")
    return value


def redact_url(url: str) -> str:
    """`url` without the user and password a proxy URL may carry, for messages and logs."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_config(raw: Any) -> OpenAIChatConfig:
    """Validate a raw config; raise `InvalidConfig` naming each bad field (never its value)."""
    if not isinstance(raw, dict):
        raise InvalidConfig("The config must be a JSON object.")
    try:
        return OpenAIChatConfig.model_validate(raw)
    except ValidationError as error:
        problems = [_describe(problem) for problem in error.errors(include_input=False)]
        raise InvalidConfig("Invalid config: " + "; ".join(problems) + ".") from None


def with_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The config as the manifest and the components read it: every default applied here, so
    no other place carries one. An optional field without a default stays absent (the CDK
    checks this config against the spec, whose fields are not nullable). A config the model
    refuses keeps its values over the defaults (the verbs refuse it by field name before
    anything reads it)."""
    try:
        return parse_config(dict(raw)).model_dump(mode="json", exclude_none=True)
    except InvalidConfig:
        defaults = OpenAIChatConfig.model_construct().model_dump(mode="json", exclude_none=True)
        return {**defaults, **raw}


def _describe(problem: Any) -> str:
    field = ".".join(str(part) for part in problem["loc"]) or "config"
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # a rule across fields names them itself
        return message
    if problem["type"] == "missing":
        message = "is required"
    return f"'{field}' {message}"
