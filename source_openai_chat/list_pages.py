"""One page of OpenAI's list, requested through the manifest's requester (auth, retries)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters import Requester
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.components import page_body
from source_openai_chat.feed_reader import CursorVanished, Page


def list_page_fetcher(
    requester: Requester, stream_slice: StreamSlice, page_size: int, model: str | None
) -> Callable[[str | None], Page]:
    """`fetch(after)` for `NewestFirstFeed`. The requester must hand a 404 back (IGNORE): with
    `after` set it means that id no longer exists, which the reader recovers from."""

    def fetch(after: str | None) -> Page:
        params: dict[str, Any] = {"limit": page_size}
        if after:
            params["after"] = after
        if model:
            params["model"] = model
        response = requester.send_request(
            stream_state={}, stream_slice=stream_slice, request_params=params
        )
        if response is None:  # only when the error handler ignores a failed request
            raise _refused("no response")
        if response.status_code == 404:
            if after:
                raise CursorVanished(after)
            raise _refused(_error_message(response))
        body = page_body(response)
        return Page(body.get("data") or [], bool(body.get("has_more")), body.get("last_id"))

    return fetch


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def _refused(detail: str) -> AirbyteTracedException:
    message = f"The API refused the request (HTTP 404; check base_url): {detail}"
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )
