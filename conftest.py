"""What every test process shares."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def _airbyte_logger_propagates() -> None:
    """PyAirbyte (the quick start's tests import it) stops the "airbyte" logger propagating,
    which the connector logs through: a test that reads the connector's log records after it,
    in the same process, would see none."""
    logging.getLogger("airbyte").propagate = True
