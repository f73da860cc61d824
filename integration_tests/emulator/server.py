"""A local emulator of OpenAI's stored chat completions API, on a real HTTP server.

It serves `GET /v1/chat/completions` (after/limit/order/model/metadata[key]=value),
`GET /v1/chat/completions/{id}` and `GET /v1/chat/completions/{id}/messages`, answers a wrong key
with OpenAI's own 401 body, and injects faults on demand (429 with `Retry-After`, 5xx, an HTML
error page, a truncated body, a reset connection, an empty page that claims `has_more`).

With `azure=True` it behaves like Azure OpenAI instead: `/openai/v1/...` (or the legacy
`/openai/...?api-version=...`), the key in an `api-key` header, `total` in the envelope, `object`,
`finish_reason` and `*_tokens_details` null, and Azure's error bodies.

Tests run it in-process on 127.0.0.1 and change its data between syncs (new records, ties, late
arrivals, deletions); the quick start and the benchmarks run it as a process
(`python -m integration_tests.emulator`).
"""

from __future__ import annotations

import bisect
import contextlib
import email.utils
import hashlib
import json
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from integration_tests.emulator import organization
from integration_tests.emulator.dataset import Dataset

TEST_API_KEY = "sk-test-emulator-0000000000"
RESTRICTED_API_KEY = "sk-test-restricted-0000000000"
TEST_ADMIN_KEY = "sk-admin-test-emulator-0000000000"
DEFAULT_PROJECT = "proj_emulator"  # the project of a request that names none
ARCHIVED_PROJECT = "proj_archived"  # listed only with include_archived=true; stores nothing
MAX_LIMIT = 100


@dataclass
class Fault:
    """One injected fault: fires on requests whose path starts with `path`.

    `skip` matching requests pass untouched first, then the fault fires `times` times
    (`times=-1`: on every later match).
    """

    # status | quota | html | truncated | not_json | reset | empty_has_more | same_page |
    # delete_after
    # (delete_after: the request's `after` completion is deleted just before it is answered)
    kind: str
    path: str = "/v1/chat/completions"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    skip: int = 0
    times: int = 1
    message: str = "The server had an error while processing your request. Sorry about that!"
    # Send `retry-after` as an HTTP date this many seconds after the answer (the other form).
    retry_after_date_in: float | None = None


RANDOM_FAULTS = (
    Fault("status", status=429, headers={"retry-after-ms": "10"}, message="Rate limit reached."),
    Fault("status", status=500),
    Fault("html", status=502),
    Fault("status", status=503, message="The engine is currently overloaded."),
)


class TokenBucket:
    """A request rate limit as a token bucket: `rate` tokens a second, up to `burst_s` seconds
    of them saved. OpenAI states limits per minute and enforces them over shorter windows
    ("60,000 requests/minute may be enforced as 1,000 requests/second"): a burst well under a
    second of the rate is what a real account meets."""

    def __init__(self, rate: float, burst_s: float = 1.0) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate * burst_s)
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float | None:
        """None when a token was taken; else the seconds until the next one."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return None
            return (1.0 - self._tokens) / self.rate

    def headers(self) -> dict[str, str]:
        """OpenAI's `x-ratelimit-*-requests` headers for the bucket as it stands: the limit per
        minute, the requests left, and how long until it is full again (a Go duration)."""
        with self._lock:
            self._refill()
            return {
                "x-ratelimit-limit-requests": str(round(self.rate * 60)),
                "x-ratelimit-remaining-requests": str(int(self._tokens)),
                "x-ratelimit-reset-requests": go_duration(
                    (self.capacity - self._tokens) / self.rate
                ),
            }

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes it (Go's format): `20ms`, `1.5s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(seconds, 0) * 1000:.0f}ms"
    minutes, rest = divmod(seconds, 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


@dataclass
class LoggedRequest:
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    arrived: float = field(default_factory=time.perf_counter)
    arrived_epoch: float = field(default_factory=time.time)  # comparable across processes

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.query if key == name), None)


def error_body(message: str, type_: str, code: str | None, param: str | None = None) -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": param, "code": code}}
    ).encode()


def _missing_scope(scope: str) -> str:
    return (
        f"You have insufficient permissions for this operation. Missing scopes: {scope}. Check "
        "that you have the correct role in your organization (Reader, Writer, Owner) and project "
        "(Member, Owner), and if you're using a restricted API key, that it has the necessary "
        "scopes."
    )


def _masked(key: str) -> str:
    """OpenAI shows a rejected key as its first and last few characters only."""
    return f"{key[:6]}{'*' * 10}{key[-4:]}" if len(key) > 10 else "***"


class Store:
    """Completions ordered by (`created`, arrival), with O(1) lookup of an `after` position.

    OpenAI does not document the order of completions created in the same second. With
    `shuffle_ties`, ties are listed in an order unrelated to arrival or id (a hash of the id,
    stable across requests, as a real list must be to page through)."""

    def __init__(self, shuffle_ties: bool = False) -> None:
        self._shuffle_ties = shuffle_ties
        self._keys: list[tuple[int, int]] = []
        self._records: list[dict[str, Any]] = []
        self._encoded: dict[str, bytes] = {}
        self._positions: dict[str, int] | None = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self._arrival = 0

    def __len__(self) -> int:
        return len(self._records)

    def add(
        self,
        record: dict[str, Any],
        messages: list[dict[str, Any]] | None = None,
        listed_at: int | None = None,
    ) -> None:
        """Insert in `created` order; a record with an older `created` lands behind newer ones.
        `listed_at` places a record whose `created` is missing or odd."""
        self._arrival += 1
        tiebreak = _tie_rank(record["id"]) if self._shuffle_ties else self._arrival
        key = (record["created"] if listed_at is None else listed_at, tiebreak)
        position = bisect.bisect_right(self._keys, key)
        self._keys.insert(position, key)
        self._records.insert(position, record)
        self._encoded[record["id"]] = json.dumps(record, ensure_ascii=False).encode()
        self.messages[record["id"]] = messages or []
        self._positions = None if position < len(self._records) - 1 else self._positions
        if self._positions is not None:
            self._positions[record["id"]] = position

    def delete(self, completion_id: str) -> None:
        position = self.position(completion_id)
        if position is None:
            raise KeyError(completion_id)
        del self._keys[position], self._records[position]
        del self._encoded[completion_id], self.messages[completion_id]
        self._positions = None

    def update_metadata(self, completion_id: str, metadata: dict[str, str]) -> None:
        position = self.position(completion_id)
        if position is None:
            raise KeyError(completion_id)
        record = self._records[position]
        record["metadata"] = metadata
        self._encoded[completion_id] = json.dumps(record, ensure_ascii=False).encode()

    def position(self, completion_id: str) -> int | None:
        if self._positions is None:
            self._positions = {r["id"]: i for i, r in enumerate(self._records)}
        return self._positions.get(completion_id)

    def get(self, completion_id: str) -> dict[str, Any] | None:
        position = self.position(completion_id)
        return None if position is None else self._records[position]

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def encoded(self, completion_id: str) -> bytes:
        return self._encoded[completion_id]

    def walk(self, start: int, newest_first: bool) -> Iterator[dict[str, Any]]:
        step = -1 if newest_first else 1
        index = start
        while 0 <= index < len(self._records):
            yield self._records[index]
            index += step


def _tie_rank(completion_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(completion_id.encode(), digest_size=8).digest(), "big")


class Emulator:
    """The API's state plus an HTTP server that serves it; use as a context manager."""

    def __init__(
        self,
        dataset: Dataset | None = None,
        *,
        api_keys: Iterable[str] = (TEST_API_KEY,),
        latency_s: float = 0.0,
        latency_spread_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        azure: bool = False,
        fault_rate: float = 0.0,
        fault_seed: int = 1,
        rate_limit: float | None = None,
        rate_limit_burst_s: float = 1.0,
        rate_limit_headers: bool = False,
        shuffle_ties: bool = False,
        ignore_order: str | None = None,
        projects: Mapping[str, Dataset] | None = None,
        project_keys: Mapping[str, str] | None = None,
        admin_keys: Iterable[str] = (TEST_ADMIN_KEY,),
        now: int | None = None,
        clock_at_newest: bool = False,
    ) -> None:
        self.azure = azure
        # An OpenAI-compatible server that lists in one order whatever `order` says: "asc"
        # (oldest first, the documented default, so the likeliest mistake) or "desc".
        if ignore_order not in (None, "asc", "desc"):
            raise ValueError(f"ignore_order is 'asc', 'desc' or None, not {ignore_order!r}")
        self.ignore_order = ignore_order
        # Requests/s over which the API answers 429 with `retry-after-ms`, as OpenAI does.
        self.rate_limit = TokenBucket(rate_limit, rate_limit_burst_s) if rate_limit else None
        # OpenAI's x-ratelimit-*-requests headers on every answer, not only on a 429.
        self.rate_limit_headers = rate_limit_headers
        self.rate_limited = 0  # requests answered 429 by the rate limit
        self.fault_rate = fault_rate  # share of API requests answered with a random fault
        self._fault_rng = random.Random(fault_seed)
        self.store = Store(shuffle_ties)  # the default project's
        # Projects by id; a request names one in `OpenAI-Project`, else gets DEFAULT_PROJECT.
        self.stores = {DEFAULT_PROJECT: self.store}
        self.stores.update({project: Store(shuffle_ties) for project in projects or {}})
        self.api_keys = set(api_keys)  # user keys: every project
        self.project_keys = dict(project_keys or {})  # project keys: their project only
        self.admin_keys = set(admin_keys)  # the organization endpoints only
        self.unstored: list[organization.Request] = []  # traffic added by `add_unstored`
        self.now = now  # the organization endpoints' "now" (None: the clock's) ...
        # ... or an hour after the newest stored completion: the demo's data is dated early
        # 2026, and usage buckets up to today would leave its days outside any lookback.
        self.clock_at_newest = clock_at_newest
        # Each answer takes latency_s plus up to latency_spread_s more (uniformly): a real
        # API's latency varies by hundreds of milliseconds, which is what a client measuring
        # rates from answer times must cope with. The rate limit is checked before it (a 429
        # comes at once), as at a gateway.
        self.latency_s = latency_s
        self.latency_spread_s = latency_spread_s
        self._latency_rng = random.Random(fault_seed)
        self.faults: list[Fault] = []
        self.requests: list[LoggedRequest] = []
        # Called with the number of list requests so far before each is answered: how a test
        # adds or deletes completions while a sync reads.
        self.on_list_request: Callable[[int], None] | None = None
        self._lock = threading.Lock()
        self._server = _Server((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        if dataset:
            for record in dataset.completions:
                self.store.add(self._shaped(record), dataset.messages.get(record["id"]))
        for project, data in (projects or {}).items():
            for record in data.completions:
                self.stores[project].add(self._shaped(record), data.messages.get(record["id"]))

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/openai/v1" if self.azure else f"{self.root_url}/v1"

    @property
    def legacy_azure_url(self) -> str:
        """Azure's older endpoint, which needs an `api-version` query parameter."""
        return f"{self.root_url}/openai"

    @property
    def list_path(self) -> str:
        return "/openai/v1/chat/completions" if self.azure else "/v1/chat/completions"

    def start(self) -> Emulator:
        # `shutdown` waits for the serving loop to look at its flag, which it does every
        # poll_interval (0.5 s by default): half a second per test for nothing.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- what tests change and read ----------------------------------------------------------
    def add(
        self,
        record: dict[str, Any],
        messages: list[dict[str, Any]] | None = None,
        listed_at: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> None:
        with self._lock:
            self.stores[project].add(self._shaped(record), messages, listed_at)

    def add_unstored(self, request: organization.Request) -> None:
        """Traffic that was not stored: it shows in usage and costs only (a late revision of
        a recent bucket, as OpenAI makes them)."""
        with self._lock:
            self.unstored.append(request)

    def _shaped(self, record: dict[str, Any]) -> dict[str, Any]:
        """Azure returns nulls where OpenAI has values."""
        if not self.azure:
            return record
        choices = [{**choice, "finish_reason": None} for choice in record.get("choices") or []]
        usage = record.get("usage") or {}
        usage = {**usage, "prompt_tokens_details": None, "completion_tokens_details": None}
        return {**record, "object": None, "choices": choices, "usage": usage}

    @contextlib.contextmanager
    def other_client(self, share: float) -> Iterator[None]:
        """Another client of the same rate limit (another sync, production traffic), spending
        `share` of it all along while the block runs."""
        bucket = self.rate_limit
        if bucket is None:
            raise ValueError("other_client needs a rate_limit")
        stop = threading.Event()

        def spend() -> None:
            interval, next_at = 1.0 / (share * bucket.rate), time.monotonic()
            while not stop.is_set():
                wait = bucket.take()
                if wait is None:
                    next_at += interval
                    stop.wait(max(0.0, next_at - time.monotonic()))
                else:
                    stop.wait(wait)

        spender = threading.Thread(target=spend, name="other-client", daemon=True)
        spender.start()
        try:
            yield
        finally:
            stop.set()
            spender.join()

    def delete(self, completion_id: str, project: str = DEFAULT_PROJECT) -> None:
        with self._lock:
            self.stores[project].delete(completion_id)

    def update_metadata(self, completion_id: str, metadata: dict[str, str]) -> None:
        with self._lock:
            self.store.update_metadata(completion_id, metadata)

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def completions(self, project: str = DEFAULT_PROJECT) -> list[dict[str, Any]]:
        with self._lock:
            return self.stores[project].records()

    def model_requests(self) -> list[organization.Request]:
        """Every model request usage and costs count: the stored completions of every
        project, a little unstored traffic beside them, and what `add_unstored` added."""
        with self._lock:
            stored = [
                organization.stored_request(project, record)
                for project, store in self.stores.items()
                for record in store.records()
            ]
            return stored + organization.unstored_traffic(stored) + list(self.unstored)

    def buckets(self, path: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every bucket of `organization/<path>` for `query`, all pages: what a sync should
        deliver."""
        buckets, page = [], None
        while True:
            body = self.organization_page(path, [*query, *([("page", page)] if page else [])])
            buckets += body["data"]
            page = body["next_page"]
            if not body["has_more"]:
                return buckets

    def organization_page(self, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
        now = self.now if self.now is not None else int(time.time())
        if self.clock_at_newest:
            newest = [r["created"] for store in self.stores.values() for r in store.records()]
            now = max(newest, default=now) + 3_600
        if path == "projects":
            params = dict(query)
            projects = [organization.project_object(p, 1_700_000_000) for p in sorted(self.stores)]
            if params.get("include_archived") == "true":
                projects.append(organization.project_object(ARCHIVED_PROJECT, 1_700_000_000, True))
            after = params.get("after")
            if after:
                projects = projects[[p["id"] for p in projects].index(after) + 1 :]
            limit = int(params.get("limit", "20"))
            page = projects[:limit]
            return {"object": "list", "data": page,
                    "first_id": page[0]["id"] if page else None,
                    "last_id": page[-1]["id"] if page else None,
                    "has_more": len(projects) > limit}  # fmt: skip
        costs = path == "costs"
        if path not in ("costs", "usage/completions"):
            raise KeyError(path)
        return organization.bucket_page(query, now, self.model_requests(), costs)

    def list_requests(self, path: str | None = None) -> list[LoggedRequest]:
        path = path or self.list_path
        with self._lock:
            return [r for r in self.requests if r.path.rstrip("/") == path]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- request handling --------------------------------------------------------------------
    def take_fault(self, path: str, query: list[tuple[str, str]]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if not path.startswith(fault.path) or fault.times == 0:
                    continue
                if fault.kind == "delete_after" and not (
                    path.rstrip("/") == self.list_path and dict(query).get("after")
                ):
                    continue  # only list requests that page after an id
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

    def answer_latency(self) -> float:
        """Seconds this answer takes (after the rate limit is checked)."""
        if not self.latency_spread_s:
            return self.latency_s
        with self._lock:
            return self.latency_s + self._latency_rng.uniform(0.0, self.latency_spread_s)

    def random_fault(self) -> Fault | None:
        """With probability `fault_rate`: a 429 (with `retry-after-ms`), 500, 502 page or 503."""
        with self._lock:
            if not self.fault_rate or self._fault_rng.random() >= self.fault_rate:
                return None
            return self._fault_rng.choice(RANDOM_FAULTS)

    def log(self, path: str, query: list[tuple[str, str]], headers: dict[str, str]) -> None:
        with self._lock:
            self.requests.append(LoggedRequest(path, query, headers))

    def authorize(
        self, headers: dict[str, str], organization_endpoint: bool = False
    ) -> tuple[int, bytes] | Store | None:
        """OpenAI's (or Azure's) status and error body for a key that may not make this
        request; else the store of the project it reads (None on an organization endpoint)."""
        if self.azure:
            if headers.get("api-key", "") in self.api_keys:
                return self.store
            message = (
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource."
            )
            return 401, azure_error_body(401, message)
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or not authorization[7:].strip():
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            return 401, error_body(message, "invalid_request_error", None)
        key = authorization[7:].strip()
        known = key in self.api_keys or key in self.project_keys or key == RESTRICTED_API_KEY
        if key in self.admin_keys:
            if organization_endpoint:
                return None
            message = "Admin API keys cannot be used for non-administration endpoints."
            return 401, error_body(message, "invalid_request_error", None)
        if organization_endpoint and known:  # a project or user key: OpenAI's 401
            return 401, error_body(_missing_scope("api.usage.read"), "invalid_request_error", None)
        if key == RESTRICTED_API_KEY:  # a restricted key without the scope: 401, as OpenAI
            message = _missing_scope("api.chat.completions.read")
            return 401, error_body(message, "invalid_request_error", None)
        if not known:
            message = (
                f"Incorrect API key provided: {_masked(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            return 401, error_body(message, "invalid_request_error", "invalid_api_key")
        named = headers.get("openai-project")
        project = named or self.project_keys.get(key, DEFAULT_PROJECT)
        own = self.project_keys.get(key)
        if project not in self.stores or (own is not None and project != own):
            message = f"Project {project!r} does not exist or this key cannot access it."
            return 401, error_body(message, "invalid_request_error", "invalid_project")
        return self.stores[project]

    def list_page(self, query: list[tuple[str, str]], store: Store) -> tuple[int, bytes]:
        params = dict(query)
        try:
            limit = int(params.get("limit", "20"))
        except ValueError:
            return 400, error_body(
                "Invalid 'limit': expected an integer.", "invalid_request_error", None, "limit"
            )
        if limit > MAX_LIMIT:  # OpenAI's own words and code
            message = (
                "Invalid 'limit': integer above maximum value. Expected a value <= "
                f"{MAX_LIMIT}, but got {limit} instead."
            )
            return 400, error_body(
                message, "invalid_request_error", "integer_above_max_value", "limit"
            )
        if limit < 1:
            message = (
                "Invalid 'limit': integer below minimum value. Expected a value >= 1, but got "
                f"{limit} instead."
            )
            return 400, error_body(
                message, "invalid_request_error", "integer_below_min_value", "limit"
            )
        order = params.get("order", "asc")
        if order not in ("asc", "desc"):
            message = f"Invalid value for 'order': '{order}'. Expected 'asc' or 'desc'."
            return 400, error_body(message, "invalid_request_error", "invalid_value", "order")
        model = params.get("model")
        metadata = {k[9:-1]: v for k, v in query if k.startswith("metadata[") and k.endswith("]")}
        newest_first = (self.ignore_order or order) == "desc"

        with self._lock:
            after = params.get("after")
            if after:
                position = store.position(after)
                if position is None:
                    message = f"No chat completion found with id '{after}'."
                    return 404, error_body(message, "invalid_request_error", "not_found", "after")
                start = position - 1 if newest_first else position + 1
            else:
                start = len(store) - 1 if newest_first else 0
            page: list[dict[str, Any]] = []
            for record in store.walk(start, newest_first):
                if model and record["model"] != model:
                    continue
                if metadata and any(
                    (record.get("metadata") or {}).get(k) != v for k, v in metadata.items()
                ):
                    continue
                page.append(record)
                if len(page) > limit:
                    break
            has_more = len(page) > limit
            page = page[:limit]
            data = b",".join(store.encoded(r["id"]) for r in page)
            total = len(store) if self.azure else None
        return 200, envelope(data, page, has_more, total)

    def messages_page(
        self, completion_id: str, query: list[tuple[str, str]], store: Store
    ) -> tuple[int, bytes]:
        params = dict(query)
        limit = max(1, min(MAX_LIMIT, int(params.get("limit", "20"))))
        with self._lock:
            if completion_id not in store.messages:
                message = f"No chat completion found with id '{completion_id}'."
                return 404, error_body(message, "invalid_request_error", "not_found")
            messages = list(store.messages[completion_id])
        if params.get("order") == "desc":
            messages.reverse()
        after = params.get("after")
        start = 0
        if after:
            ids = [m["id"] for m in messages]
            if after not in ids:
                message = f"No message found with id '{after}'."
                return 404, error_body(message, "invalid_request_error", "not_found", "after")
            start = ids.index(after) + 1
        page = messages[start : start + limit]
        data = b",".join(json.dumps(m, ensure_ascii=False).encode() for m in page)
        total = len(messages) if self.azure else None
        return 200, envelope(data, page, start + limit < len(messages), total)

    def get_completion(self, completion_id: str, store: Store) -> tuple[int, bytes]:
        with self._lock:
            record = store.get(completion_id)
            if record is None:
                message = f"No chat completion found with id '{completion_id}'."
                return 404, error_body(message, "invalid_request_error", "not_found")
            return 200, store.encoded(completion_id)


def envelope(
    data: bytes, page: list[dict[str, Any]], has_more: bool, total: int | None = None
) -> bytes:
    first_id = json.dumps(page[0]["id"] if page else None)
    last_id = json.dumps(page[-1]["id"] if page else None)
    tail = f'],"first_id":{first_id},"last_id":{last_id},"has_more":{json.dumps(has_more)}'
    if total is not None:  # Azure adds the total count
        tail += f',"total":{total}'
    return b'{"object":"list","data":[' + data + tail.encode() + b"}"


def azure_error_body(status: int, message: str) -> bytes:
    """Azure's error shape: a string code and a message, nothing else."""
    return json.dumps({"error": {"code": str(status), "message": message}}).encode()


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 refuses connections when many workers connect at once.
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the kill-and-resume tests) is not a server error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


HTML_502 = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    b"</h1></center><hr><center>cloudflare</center></body></html>"
)


def _handler_for(emulator: Emulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/_emulator/requests":  # for benchmarks that run it as a process
                arrivals = [request.arrived_epoch for request in emulator.requests]
                orders = [request.param("order") for request in emulator.requests]
                count = json.dumps(
                    {"requests": len(arrivals), "arrivals": arrivals, "orders": orders}
                ).encode()
                self._send(200, count)
                return
            query = parse_qsl(url.query, keep_blank_values=True)
            headers = {k.lower(): v for k, v in self.headers.items()}
            emulator.log(url.path, query, headers)
            if emulator.rate_limit and self._over_rate_limit(emulator.rate_limit):
                return
            if emulator.latency_s or emulator.latency_spread_s:
                time.sleep(emulator.answer_latency())  # simulated latency, not test sync
            fault = emulator.take_fault(url.path, query) or emulator.random_fault()
            if fault and self._fail(fault):
                return
            organization_path = url.path.startswith("/v1/organization/")
            access = emulator.authorize(headers, organization_path)
            if isinstance(access, tuple):
                self._send(*access)
                return
            if access is None:
                self._send(*self._organization(url.path.removeprefix("/v1/organization/"), query))
                return
            self._send(*self._route(url.path, query, fault, access))

        def _organization(self, path: str, query: list[tuple[str, str]]) -> tuple[int, bytes]:
            try:
                return 200, json.dumps(emulator.organization_page(path, query)).encode()
            except organization.ParameterError as error:
                return 400, error_body(str(error), "invalid_request_error", None, error.param)
            except KeyError:
                message = f"Invalid URL (GET /v1/organization/{path})"
                return 404, error_body(message, "invalid_request_error", None)

        def _route(
            self, path: str, query: list[tuple[str, str]], fault: Fault | None, store: Store
        ) -> tuple[int, bytes]:
            parts = path.strip("/").split("/")
            if emulator.azure:
                return self._azure(parts, query, fault, store)
            if parts[:3] != ["v1", "chat", "completions"]:
                return 404, error_body(f"Invalid URL (GET {path})", "invalid_request_error", None)
            return self._api(parts[1:], query, fault, store)

        def _azure(
            self, parts: list[str], query: list[tuple[str, str]], fault: Fault | None, store: Store
        ) -> tuple[int, bytes]:
            """`/openai/v1/chat/...`, or the legacy `/openai/chat/...?api-version=...`."""
            legacy = parts[:3] == ["openai", "chat", "completions"]
            if not (parts[:4] == ["openai", "v1", "chat", "completions"] or legacy):
                return 404, azure_error_body(404, "Resource not found")
            if legacy and not dict(query).get("api-version"):
                return 404, azure_error_body(404, "Resource not found")
            status, body = self._api(parts[1:] if legacy else parts[2:], query, fault, store)
            if status >= 400:  # Azure reshapes every error
                message = json.loads(body).get("error", {}).get("message", "")
                body = azure_error_body(status, message)
            return status, body

        def _api(
            self, parts: list[str], query: list[tuple[str, str]], fault: Fault | None, store: Store
        ) -> tuple[int, bytes]:
            """`parts` start at `chat/completions`."""
            path = "/".join(parts)
            parts = ["v1", *parts]
            if len(parts) == 3:
                after = dict(query).get("after")
                if fault and fault.kind == "delete_after" and after:
                    emulator.delete(after)
                if fault and fault.kind == "same_page":  # ignores `after`: last_id never advances
                    query = [(k, v) for k, v in query if k != "after"]
                if fault and fault.kind == "empty_has_more":
                    return (
                        200,
                        b'{"object":"list","data":[],"first_id":null,"last_id":null,"has_more":true}',
                    )
                if emulator.on_list_request:
                    emulator.on_list_request(len(emulator.list_requests()))
                return emulator.list_page(query, store)
            if len(parts) == 4:
                return emulator.get_completion(parts[3], store)
            if len(parts) == 5 and parts[4] == "messages":
                return emulator.messages_page(parts[3], query, store)
            return 404, error_body(f"Invalid URL (GET {path})", "invalid_request_error", None)

        def _over_rate_limit(self, bucket: TokenBucket) -> bool:
            wait = bucket.take()
            if wait is None:
                return False
            with emulator._lock:
                emulator.rate_limited += 1
            limit = round(bucket.rate * 60)
            message = (
                f"Rate limit reached for requests in organization org-emulator on requests per "
                f"min (RPM): Limit {limit}, Used {limit}, Requested 1. Please try again in "
                f"{wait * 1000:.0f}ms."
            )
            headers = {  # and the x-ratelimit-* headers with `rate_limit_headers` (_send)
                "retry-after-ms": str(max(1, round(wait * 1000))),
                "retry-after": str(max(1, round(wait))),
            }
            body = error_body(message, "requests", "rate_limit_exceeded")
            self._send(429, body, headers)
            return True

        def _fail(self, fault: Fault) -> bool:
            """Answer with the fault; False when the fault only alters a normal answer."""
            if fault.kind == "status":
                body = error_body(
                    fault.message, "server_error" if fault.status >= 500 else "requests", None
                )
                headers = dict(fault.headers)
                if fault.retry_after_date_in is not None:
                    moment = time.time() + fault.retry_after_date_in
                    headers["retry-after"] = email.utils.formatdate(moment, usegmt=True)
                self._send(fault.status, body, headers)
            elif fault.kind == "quota":  # OpenAI's 429 for an account without credit
                message = (
                    "You exceeded your current quota, please check your plan and billing "
                    "details. For more information on this error, read the docs: "
                    "https://platform.openai.com/docs/guides/error-codes/api-errors."
                )
                body = error_body(message, "insufficient_quota", "insufficient_quota")
                self._send(429, body, {})
            elif fault.kind == "html":
                self._send(fault.status, HTML_502, {"Content-Type": "text/html"})
            elif fault.kind == "truncated":
                self._send(200, b'{"object":"list","data":[{"id":"chatcmpl-tr', {})
            elif fault.kind == "not_json":
                self._send(200, b"upstream connect error or disconnect/reset before headers", {})
            elif fault.kind == "reset":
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                return False
            return True

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = headers or {}
            if emulator.rate_limit and emulator.rate_limit_headers:
                headers = {**emulator.rate_limit.headers(), **headers}
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header(
                "x-request-id", f"req_{uuid.uuid4().hex}"
            )  # as OpenAI, on every answer
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
