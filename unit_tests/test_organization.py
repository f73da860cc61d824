"""Where usage and costs start, and their primary keys (streams/organization.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from source_openai_chat.streams.organization import first_bucket_start, with_keyed_dimensions

DAY = 86_400
NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
TODAY = int(datetime(2026, 12, 6, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("newest_read", "start", "expected"),
    [
        (None, None, TODAY - 30 * DAY),  # a first sync without start_date: 30 UTC days back
        (None, TODAY - 5 * DAY + 3_600, TODAY - 5 * DAY),  # start_date's day
        (TODAY, None, TODAY - 3 * DAY),  # the lookback before the newest bucket read
        (TODAY + 7_200, None, TODAY - 3 * DAY),  # an hourly bucket: its day
        (TODAY, TODAY - DAY, TODAY - DAY),  # never before start_date's day
    ],
)
def test_usage_and_costs_start_on_a_utc_day(newest_read, start, expected):
    assert first_bucket_start(newest_read, 3, start, NOW) == expected


def test_a_null_dimension_becomes_a_value_no_real_one_has():
    result = {"project_id": None, "model": "gpt-4o", "batch": None, "input_tokens": 5}

    keyed = with_keyed_dimensions(result, ("project_id", "model", "batch"))

    assert keyed == {"project_id": "", "model": "gpt-4o", "batch": False, "input_tokens": 5}
