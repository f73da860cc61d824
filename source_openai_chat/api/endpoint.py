"""How a config becomes requests: the URLs, the key's header, the query every request carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from source_openai_chat.config import AzureProvider, CompatibleProvider, OpenAIChatConfig

CONNECT_TIMEOUT_SECONDS = 30.0
# List pages come back in well under a second; without a timeout a stalled connection would
# hang the sync forever (a timed-out attempt is retried like a 5xx).
READ_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Endpoint:
    """One API endpoint as a config reaches it: `url(completion_id)`, headers and query."""

    url_head: str  # the whole URL, or the part before a completion's id
    headers: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)
    url_tail: str = ""  # the part after a completion's id
    timeouts: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)

    def url(self, completion_id: str | None = None) -> str:
        if completion_id is None:
            return self.url_head
        return self.url_head + quote(completion_id, safe="") + self.url_tail


@dataclass(frozen=True)
class Project:
    """Whose completions a request reads: a project (None: the key's own) and its key."""

    project_id: str | None
    api_key: str


def projects(config: OpenAIChatConfig) -> list[Project]:
    """Every project a connection reads: those of `projects`, each with its own key or the
    connection's, else the one of `project_id` (or of the key)."""
    if not config.projects:
        return [Project(config.project_id, config.api_key)]
    return [
        Project(project.project_id, project.api_key or config.api_key)
        for project in config.projects
    ]


def auth_header(config: OpenAIChatConfig, api_key: str) -> dict[str, str]:
    """The key as OpenAI takes it (a Bearer token), as Azure does (`api-key`), or in the header
    and with the prefix a compatible server names."""
    provider = config.api_provider
    if isinstance(provider, AzureProvider):
        return {"api-key": api_key}
    if isinstance(provider, CompatibleProvider):
        return {provider.auth_header: provider.auth_prefix + api_key}
    return {"Authorization": f"Bearer {api_key}"}


def _headers(config: OpenAIChatConfig, project: Project) -> dict[str, str]:
    scoped = {"OpenAI-Organization": config.organization_id, "OpenAI-Project": project.project_id}
    named = {name: value for name, value in scoped.items() if value}
    return {**named, **auth_header(config, project.api_key)}


def _api_version(config: OpenAIChatConfig) -> dict[str, str]:
    """Azure's legacy endpoint needs `api-version` on every request."""
    provider = config.api_provider
    if isinstance(provider, AzureProvider) and provider.api_version:
        return {"api-version": provider.api_version}
    return {}


def list_endpoint(config: OpenAIChatConfig, project: Project) -> Endpoint:
    """GET /chat/completions, with the config's `metadata[key]=value` filters.
    API docs: https://platform.openai.com/docs/api-reference/chat/list"""
    metadata = {f"metadata[{pair.key}]": pair.value for pair in config.metadata_filter or []}
    return Endpoint(
        f"{config.base_url.rstrip('/')}/chat/completions",
        _headers(config, project),
        {"order": "desc", **metadata, **_api_version(config)},
    )


def messages_endpoint(config: OpenAIChatConfig, project: Project) -> Endpoint:
    """GET /chat/completions/{id}/messages, oldest first.
    API docs: https://platform.openai.com/docs/api-reference/chat/getMessages"""
    return Endpoint(
        f"{config.base_url.rstrip('/')}/chat/completions/",
        _headers(config, project),
        {"order": "asc", **_api_version(config)},
        url_tail="/messages",
    )


def admin_endpoint(config: OpenAIChatConfig, path: str, params: Mapping[str, Any]) -> Endpoint:
    """One of the organization's endpoints (`organization/projects`, `organization/costs`,
    ...), which answer only to an admin key, sent as a Bearer token.
    API docs: https://platform.openai.com/docs/api-reference/usage"""
    admin_key = config.admin_api_key or ""
    headers = {"OpenAI-Organization": config.organization_id} if config.organization_id else {}
    return Endpoint(
        f"{config.base_url.rstrip('/')}/organization/{path}",
        {**headers, "Authorization": f"Bearer {admin_key}"},
        params,
    )
