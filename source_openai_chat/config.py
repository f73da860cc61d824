"""The connector's config as a typed model, so every bad value is refused by field name.

The spec's JSON schema draws the form and the CDK validates against it, but its messages do not
name the field ("0 is less than the minimum of 1") and it cannot express rules such as "plain
http only to loopback hosts". Errors here never echo a value: a key pasted into the wrong field
must not end up in a log.
"""

from __future__ import annotations

import ipaddress
import re
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
ADMIN_KEY_PREFIX = "sk-admin-"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
# The form's sections (spec.py): what most users set, then filters, then tuning.
CONNECTION, FILTERS, ADVANCED = "connection", "filters", "advanced"


class InvalidConfig(ValueError):
    """A config the connector refuses; the message names the field(s)."""


def form(order: int | None = None, group: str | None = None, **extra: Any) -> dict[str, Any]:
    """The Airbyte form's extras for a field (spec.py writes them into the spec)."""
    placed = {"order": order, "group": group} if order is not None else {}
    return {**placed, **extra}


class MetadataPair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1,
        max_length=64,
        title="Key",
        description="A metadata key as sent on the create call (up to 64 characters).",
        examples=["team"],
        json_schema_extra=form(airbyte_secret=False),
    )
    value: str = Field(
        max_length=512,
        title="Value",
        description="The value that key must have (exact match, up to 512 characters).",
        examples=["search"],
    )


class ProjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(
        min_length=1,
        pattern=r"^[^\s]+$",
        title="Project ID",
        description="The project's ID (Settings → Project → General), sent as the "
        "OpenAI-Project header of its requests.",
        examples=["proj_a1b2c3d4e5f6"],
    )
    api_key: str | None = Field(
        default=None,
        min_length=1,
        title="API Key",
        description="A key of this project, if the connection's API Key cannot read it.",
        examples=["sk-proj-..."],
        json_schema_extra=form(airbyte_secret=True),
    )

    @field_validator("api_key")
    @classmethod
    def _key_is_for_completions(cls, value: str | None) -> str | None:
        return None if value is None else _completions_key(value)


class OpenAIProvider(BaseModel):
    model_config = ConfigDict(title="OpenAI")

    provider: Literal["openai"]


class AzureProvider(BaseModel):
    model_config = ConfigDict(title="Azure OpenAI")

    provider: Literal["azure"]
    api_version: str | None = Field(
        default=None,
        pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?)?$",
        title="API Version",
        description="Only for the legacy endpoint https://RESOURCE.openai.azure.com/openai (for "
        "example 2025-02-01-preview). Leave empty with the v1 endpoint, .../openai/v1.",
        examples=["2025-02-01-preview"],
    )


class CompatibleProvider(BaseModel):
    model_config = ConfigDict(title="OpenAI-compatible server")

    provider: Literal["openai_compatible"]
    auth_header: str = Field(
        default="Authorization",
        min_length=1,
        pattern=r"^[A-Za-z0-9-]+$",
        title="Auth Header",
        description="The request header that carries the key.",
        examples=["Authorization", "X-API-Key"],
    )
    auth_prefix: str = Field(
        default="Bearer ",
        title="Auth Value Prefix",
        description="Written before the key in that header; empty for a bare key.",
        examples=["Bearer ", ""],
    )

    @field_validator("auth_prefix")
    @classmethod
    def _prefix_fits_in_a_header(cls, value: str) -> str:
        return _fits_in_a_header(value)


ApiProvider = Annotated[
    OpenAIProvider | AzureProvider | CompatibleProvider, Field(discriminator="provider")
]


class OpenAIChatConfig(BaseModel):
    """The config and the Airbyte form drawn from it (spec.py): each field's type, default,
    bounds, pattern, words and place in the form are written here once."""

    model_config = ConfigDict(extra="allow", title="OpenAI Stored Chat Completions")

    api_key: str = Field(
        min_length=1,
        title="API Key",
        description="An OpenAI API key with read access to Chat Completions in the project that "
        'stores them (platform.openai.com → API keys). A restricted key needs the "Read" '
        'permission on "Chat completions".',
        examples=["sk-proj-..."],
        json_schema_extra=form(0, CONNECTION, airbyte_secret=True),
    )
    api_provider: ApiProvider = Field(
        default=OpenAIProvider(provider="openai"),
        title="API Provider",
        description="Where your stored completions live: OpenAI (the default), Azure OpenAI, or "
        "another server that implements OpenAI's stored chat completions API. For Azure, also "
        "set the Base URL to your resource's endpoint.",
        examples=[
            {"provider": "openai"},
            {"provider": "azure", "api_version": "2025-02-01-preview"},
        ],
        json_schema_extra=form(1, CONNECTION, type="object"),
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL,
        pattern=r"^https?://[^\s/]+.*$",
        title="Base URL",
        description="Root of the API. Change it for Azure OpenAI "
        "(https://RESOURCE.openai.azure.com/openai/v1), an OpenAI-compatible gateway or a local "
        "emulator. Plain http:// is accepted for loopback hosts only, so the key is never sent "
        "in clear.",
        examples=[
            "https://api.openai.com/v1",
            "https://my-resource.openai.azure.com/openai/v1",
            "http://127.0.0.1:8080/v1",
        ],
        json_schema_extra=form(2, CONNECTION),
    )
    organization_id: str | None = Field(
        default=None,
        title="Organization ID",
        description="Sent as the OpenAI-Organization header. Set it when your key belongs to "
        "several organizations (Settings → Organization → General).",
        examples=["org-a1b2c3d4e5f6"],
        json_schema_extra=form(3, CONNECTION),
    )
    project_id: str | None = Field(
        default=None,
        title="Project ID",
        description="Sent as the OpenAI-Project header. Stored completions belong to a project: "
        "set it when your key can reach several projects (Settings → Project → "
        "General).",
        examples=["proj_a1b2c3d4e5f6"],
        json_schema_extra=form(4, CONNECTION),
    )
    start_date: str | None = Field(
        default=None,
        pattern=DATE_PATTERN,
        title="Start Date",
        description="UTC date-time; completions created before it are not synced. Leave empty "
        "to sync everything OpenAI still stores.",
        examples=["2026-01-01T00:00:00Z"],
        json_schema_extra=form(
            5, FILTERS, format="date-time", pattern_descriptor="YYYY-MM-DDTHH:MM:SSZ"
        ),
    )
    models: list[str] | None = Field(
        default=None,
        title="Models",
        description="Sync only completions made with these exact model names (filtered by "
        "OpenAI). Each model is read as its own partition, concurrently. Leave empty for all "
        "models.",
        examples=[["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"]],
        json_schema_extra=form(6, FILTERS, uniqueItems=True),
    )
    metadata_filter: list[MetadataPair] | None = Field(
        default=None,
        title="Metadata Filter",
        description="Sync only completions whose metadata has all of these key/value pairs, as "
        "sent with `metadata` on the create call (for example team=search).",
        examples=[[{"key": "team", "value": "search"}, {"key": "feature", "value": "summarize"}]],
        json_schema_extra=form(7, FILTERS),
    )
    lookback_window_minutes: int = Field(
        default=DEFAULT_LOOKBACK_MINUTES,
        ge=0,
        strict=True,
        title="Lookback Window (minutes)",
        description="Each incremental sync re-reads this many minutes before the last synced "
        "`created`, to catch completions that finished (and became listed) after a sync, with "
        "an older `created`. Cover your longest completion; 60 covers any OpenAI request "
        "timeout.",
        examples=[60],
        json_schema_extra=form(8, ADVANCED),
    )
    page_size: int = Field(
        default=100,
        ge=1,
        le=100,
        strict=True,
        title="Page Size",
        description="Completions per request (1-100). Lower it only if a gateway times out.",
        examples=[100],
        json_schema_extra=form(9, ADVANCED),
    )
    max_retries: int = Field(
        default=5,
        ge=0,
        le=20,
        strict=True,
        title="Max Retries per Request",
        description="How often a request is retried after a rate limit (429), a server error "
        "(5xx), a timeout or a broken response before the sync fails. Waits follow OpenAI's "
        "Retry-After, else grow 1, 2, 4, 8... seconds.",
        examples=[5],
        json_schema_extra=form(10, ADVANCED),
    )
    max_retry_seconds: int = Field(
        default=600,
        ge=1,
        le=86400,
        strict=True,
        title="Max Retry Time per Request (seconds)",
        description="The longest a single request keeps being retried (including the waits) "
        "before the sync fails with a transient error. The sync can then be resumed from its "
        "last state.",
        examples=[600],
        json_schema_extra=form(11, ADVANCED),
    )
    num_workers: int = Field(
        default=8,
        ge=1,
        le=32,
        strict=True,
        title="Concurrent Requests",
        description="How many messages requests run at once (input messages are fetched one "
        "completion at a time). Rate limits are handled for the whole pool: a 429 slows every "
        "worker down.",
        examples=[8],
        json_schema_extra=form(12, ADVANCED),
    )
    max_requests_per_second: float | None = Field(
        default=None,
        gt=0,
        le=10000,
        title="Max Requests per Second",
        description="Optional ceiling on messages requests per second, to leave headroom for "
        "your production traffic, which shares the organization's rate limits. Without it the "
        "connector goes as fast as the API allows and slows down on HTTP 429.",
        examples=[20],
        json_schema_extra=form(13, ADVANCED),
    )
    projects: list[ProjectConfig] | None = Field(
        default=None,
        title="Projects",
        description="Read every one of these projects in one connection, each as its own "
        "partition (records carry `project_id`). A project without its own key is read with "
        "the API Key. Leave empty to read the one project of Project ID (or of the key).",
        examples=[[{"project_id": "proj_a1b2c3d4e5f6"}, {"project_id": "proj_f6e5d4c3b2a1"}]],
        json_schema_extra=form(14, CONNECTION),
    )
    admin_api_key: str | None = Field(
        default=None,
        min_length=1,
        title="Admin API Key",
        description="Optional: an organization admin key (sk-admin-..., Organization settings → "
        "Admin keys; Read Only is enough). With it the connector also syncs the "
        "organization's projects and its daily usage and costs.",
        examples=["sk-admin-..."],
        json_schema_extra=form(15, CONNECTION, airbyte_secret=True),
    )
    usage_bucket_width: Literal["1d", "1h"] = Field(
        default="1d",
        title="Usage Bucket Width",
        description="The time bucket of `usage_completions`: a day or an hour (costs come by "
        "day only). Needs the Admin API Key.",
        examples=["1d"],
        json_schema_extra=form(16, ADVANCED),
    )
    usage_lookback_days: int = Field(
        default=3,
        ge=0,
        le=31,
        strict=True,
        title="Usage Lookback (days)",
        description="Each sync reads usage and costs again from this many days before the "
        "newest bucket the last sync read: OpenAI fills in and revises recent buckets late. "
        "Needs the Admin API Key.",
        examples=[3],
        json_schema_extra=form(17, ADVANCED),
    )

    @field_validator("api_key")
    @classmethod
    def _key_is_not_blank(cls, value: str) -> str:
        return _completions_key(value)

    @field_validator("admin_api_key")
    @classmethod
    def _key_is_an_admin_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(ADMIN_KEY_PREFIX):
            raise ValueError(
                "must be an organization admin key (it starts with sk-admin-; create one in "
                "the OpenAI dashboard under Organization settings → Admin keys); a project or "
                "user key goes in 'api_key'"
            )
        return _fits_in_a_header(value)

    @field_validator("projects")
    @classmethod
    def _projects_are_distinct(
        cls, value: list[ProjectConfig] | None
    ) -> list[ProjectConfig] | None:
        ids = [project.project_id for project in value or []]
        if len(set(ids)) != len(ids):
            raise ValueError("must not name a project twice")
        return value

    @model_validator(mode="after")
    def _one_way_to_name_the_project(self) -> OpenAIChatConfig:
        if self.projects and self.project_id:
            raise ValueError(
                "set either 'project_id' (one project) or 'projects' (several), not both: add "
                "the project of 'project_id' to 'projects'"
            )
        return self

    # "before": these rules word the refusal better than the field's pattern would.
    @field_validator("base_url", mode="before")
    @classmethod
    def _url_is_safe(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            url = urlsplit(value)
            hostname = url.hostname
        except ValueError:  # such as an unclosed IPv6 bracket
            hostname = None
        if not hostname or url.scheme not in ("http", "https"):
            raise ValueError("must be an http(s) URL such as https://api.openai.com/v1")
        if url.scheme == "http" and not _is_loopback(hostname):
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


def _completions_key(value: str) -> str:
    """A key that can read stored completions: not blank, not an admin key."""
    if not value.strip():
        raise ValueError("must not be blank")
    if value.startswith(ADMIN_KEY_PREFIX):
        raise ValueError(
            "is an organization admin key (sk-admin-...), which cannot read stored "
            "completions: use a project or user key here, and put the admin key in "
            "'admin_api_key'"
        )
    return _fits_in_a_header(value)


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


def _describe(problem: Any) -> str:
    field = ".".join(str(part) for part in problem["loc"]) or "config"
    message = problem["msg"].removeprefix("Value error, ")
    if not problem["loc"]:  # a rule across fields names them itself
        return message
    if problem["type"] == "missing":
        message = "is required"
    return f"'{field}' {message}"
