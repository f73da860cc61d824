"""The list's paging rule as the API has it: a page of items with `has_more`, continued with
`after` = the last item's id (OpenAI's SDK pages so), and what ends it: the last page, an empty
page (with a warning), or a page that would be read twice (a failure, never a loop)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

LOGGER = logging.getLogger("airbyte")


@dataclass(frozen=True)
class ApiPage:
    """One answer of the list: its items, whether more follow, and the id to page after."""

    records: list[Any]
    has_more: bool
    last_id: str | None
    next_page: str | None = None  # the token of the next page, where a list pages by token


def next_after(page: ApiPage, after: str | None, paged_after: set[str] | None = None) -> str | None:
    """The id to continue after, or None at the end; never the same page twice, and never an
    id this read has already paged after (`paged_after`, updated here): a list that leads back
    to an earlier page (A, B, A, B...) would otherwise be read forever."""
    if not page.has_more:
        return None
    if not page.records:
        LOGGER.warning(
            "The API said there were more items after %r but sent an empty one; "
            "ending this read here.",
            after,
        )
        return None
    token = refuse_repeat(page, after, paged_after)
    if paged_after is not None:
        paged_after.add(str(token))
    return str(token)


def refuse_repeat(page: ApiPage, after: str | None, paged_after: set[str] | None = None) -> Any:
    """The page's last id; fails the read if paging after it would repeat a page. Checked
    before a page's records are looked at: a page served twice would otherwise read as
    `created` going back up, an unsorted list, which is not what went wrong."""
    last = page.records[-1] if page.records else None
    token = page.last_id or (last.get("id") if isinstance(last, dict) else None)
    if not page.has_more or not page.records:
        return token
    if not token or token == after:
        raise _fail(
            f"The API returned the same page again (after={after!r}): paging cannot advance, "
            "so the sync stopped instead of looping.",
            FailureType.transient_error,
        )
    if paged_after is not None and token in paged_after:
        raise _fail(
            f"The API led the list back to a page this sync had already read (after="
            f"{token!r}): paging would never end, so the sync stopped instead of looping.",
            FailureType.transient_error,
        )
    return token


def _fail(message: str, failure_type: FailureType) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=failure_type
    )
