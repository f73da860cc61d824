"""The emulator's organization endpoints, as OpenAI answers them to an admin key.

`GET /v1/organization/projects` lists the emulator's projects (an archived one only with
`include_archived=true`); `GET /v1/organization/usage/completions` and
`GET /v1/organization/costs` answer time buckets aggregated from what the emulator stores (each
stored completion is one model request with its `usage`) plus traffic that was not stored
(`Usage.unstored`), grouped by the `group_by` dimensions asked for (the others null). A test
revises a recent bucket by adding unstored traffic to it.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DAY = 86_400
WIDTHS = {"1d": DAY, "1h": 3_600, "1m": 60}
USAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}  # (default, max) buckets
COSTS_LIMITS = (7, 180)
USAGE_DIMENSIONS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
COSTS_DIMENSIONS = ("project_id", "line_item", "api_key_id")
PRICE_PER_TOKEN = {"input": 2.5e-6, "output": 1.0e-5}  # usd, every model alike


@dataclass(frozen=True)
class Request:
    """One model request as usage counts it."""

    created: int
    project_id: str
    user_id: str
    api_key_id: str
    model: str
    service_tier: str
    input_tokens: int
    output_tokens: int
    input_cached_tokens: int
    batch: bool = False
    requests: int = 1


def stored_request(project_id: str, completion: dict[str, Any]) -> Request:
    """A stored completion as the usage endpoint counts it."""
    usage = completion.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    rank = zlib.crc32(str(completion.get("id")).encode())
    return Request(
        created=int(completion.get("created") or 0),
        project_id=project_id,
        user_id=f"user-{rank % 3}",
        api_key_id=f"key_{project_id}",
        model=str(completion.get("model")),
        service_tier=str(completion.get("service_tier") or "default"),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        input_cached_tokens=int(details.get("cached_tokens") or 0),
    )


def unstored_traffic(stored: Iterable[Request]) -> list[Request]:
    """Requests made without `store=true`: on every day a project used a model, thirty more
    (48,000 tokens) an hour after the day began."""
    days = {(r.created - r.created % DAY, r.project_id, r.model, r.api_key_id) for r in stored}
    return [
        Request(
            day + 3_600, project, "user-0", key, model, "default", 40_000, 8_000, 4_000, False, 30
        )
        for day, project, model, key in sorted(days)
    ]


class ParameterError(ValueError):
    """A request OpenAI would refuse with 400: (message, parameter)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _int(params: dict[str, str], name: str, default: int | None = None) -> int:
    value = params.get(name)
    if value is None:
        if default is None:
            raise ParameterError(f"Missing required parameter: '{name}'.", name)
        return default
    try:
        return int(value)
    except ValueError:
        raise ParameterError(f"Invalid '{name}': expected an integer.", name) from None


def _group_by(query: list[tuple[str, str]], allowed: tuple[str, ...]) -> list[str]:
    """`group_by=a&group_by=b` (OpenAPI's default for arrays) or `group_by=a,b`."""
    names = [part for key, value in query if key in ("group_by", "group_by[]")
             for part in value.split(",") if part]  # fmt: skip
    for name in names:
        if name not in allowed:
            raise ParameterError(f"Invalid value for 'group_by': '{name}'.", "group_by")
    return names


def bucket_page(
    query: list[tuple[str, str]],
    now: int,
    requests: list[Request],
    costs: bool,
) -> dict[str, Any]:
    """One page of usage or costs buckets, as OpenAI answers it."""
    params = dict(query)
    width_name = params.get("bucket_width", "1d")
    if width_name not in WIDTHS or (costs and width_name != "1d"):
        raise ParameterError(f"Invalid value for 'bucket_width': '{width_name}'.", "bucket_width")
    width = WIDTHS[width_name]
    default_limit, max_limit = COSTS_LIMITS if costs else USAGE_LIMITS[width_name]
    limit = _int(params, "limit", default_limit)
    if not 1 <= limit <= max_limit:
        raise ParameterError(f"Invalid 'limit': expected 1 to {max_limit}.", "limit")
    start = _int(params, "start_time")
    end = _int(params, "end_time", now)
    group_by = _group_by(query, COSTS_DIMENSIONS if costs else USAGE_DIMENSIONS)
    first = start - start % width
    token = params.get("page")
    if token:
        if not token.startswith("page_"):
            raise ParameterError("Invalid 'page'.", "page")
        first = int(token[5:])
    starts = list(range(first, end, width))
    page, rest = starts[:limit], starts[limit:]
    by_bucket: dict[int, list[Request]] = defaultdict(list)
    for request in requests:
        if first <= request.created < (page[-1] + width if page else first):
            by_bucket[request.created - request.created % width].append(request)
    data = [
        {
            "object": "bucket",
            "start_time": bucket,
            "end_time": bucket + width,
            "results": (_costs if costs else _usage)(by_bucket.get(bucket, []), group_by),
        }
        for bucket in page
    ]
    return {
        "object": "page",
        "data": data,
        "has_more": bool(rest),
        "next_page": f"page_{rest[0]}" if rest else None,
    }


def _usage(requests: list[Request], group_by: list[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for request in requests:
        key = tuple(getattr(request, name) for name in group_by)
        result = groups.setdefault(key, {
            "object": "organization.usage.completions.result",
            "input_tokens": 0, "output_tokens": 0, "input_cached_tokens": 0,
            "input_audio_tokens": 0, "output_audio_tokens": 0, "num_model_requests": 0,
            **{name: None for name in USAGE_DIMENSIONS},
            **dict(zip(group_by, key, strict=True)),
        })  # fmt: skip
        result["input_tokens"] += request.input_tokens
        result["output_tokens"] += request.output_tokens
        result["input_cached_tokens"] += request.input_cached_tokens
        result["num_model_requests"] += request.requests
    return [groups[key] for key in sorted(groups, key=json.dumps)]


def _costs(requests: list[Request], group_by: list[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for request in requests:
        for kind, tokens in (("input", request.input_tokens), ("output", request.output_tokens)):
            line = {"project_id": request.project_id, "api_key_id": request.api_key_id,
                    "line_item": f"{request.model}, {kind}"}  # fmt: skip
            key = tuple(line[name] for name in group_by)
            result = groups.setdefault(key, {
                "object": "organization.costs.result",
                "amount": {"value": 0.0, "currency": "usd"},
                "line_item": None, "project_id": None, "api_key_id": None,
                "quantity": None,
                **dict(zip(group_by, key, strict=True)),
            })  # fmt: skip
            result["amount"]["value"] += tokens * PRICE_PER_TOKEN[kind]
            if "line_item" in group_by:
                result["quantity"] = (result["quantity"] or 0) + tokens
    for result in groups.values():
        result["amount"]["value"] = round(result["amount"]["value"], 9)
    return [groups[key] for key in sorted(groups, key=json.dumps)]


def project_object(project_id: str, created_at: int, archived: bool = False) -> dict[str, Any]:
    return {
        "id": project_id,
        "object": "organization.project",
        "name": f"Project {project_id.removeprefix('proj_')}",
        "created_at": created_at,
        "archived_at": created_at + DAY if archived else None,
        "status": "archived" if archived else "active",
        "external_key_id": None,
    }
