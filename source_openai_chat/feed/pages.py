"""One page of OpenAI's list, requested through the list endpoint's client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_openai_chat.api.client import ApiClient, Skipped
from source_openai_chat.api.paging import ApiPage
from source_openai_chat.feed.reader import CursorVanished


def list_page_fetcher(
    client: ApiClient, page_size: int, model: str | None, order: str
) -> Callable[[str | None], ApiPage]:
    """`fetch(after)` for one chain of the list (`order` "desc" or "asc"). The client hands a
    404 back (api/answers.py, Reading.LIST): with `after` set it means that id no longer
    exists, which the chain recovers from; without, the URL is wrong."""

    def fetch(after: str | None) -> ApiPage:
        params: dict[str, Any] = {"limit": page_size, "order": order}
        if after:
            params["after"] = after
        if model:
            params["model"] = model
        page = client.page(params)
        if isinstance(page, Skipped):
            if page.status == 404 and after:
                raise CursorVanished(after)
            raise _refused(page)
        return page

    return fetch


def _refused(skipped: Skipped) -> AirbyteTracedException:
    message = (
        f"The API refused the request (HTTP {skipped.status}; check base_url): {skipped.message}"
    )
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.config_error
    )
