from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from integration_tests.emulator import RESTRICTED_API_KEY, TEST_API_KEY, Emulator, generate

# The quick start's PyAirbyte 0.71.3 installs on Python < 3.13 only (the `quickstart` extra has
# that marker): its tests run where it does. CI runs the suite on 3.11 and on 3.13 (.ci/run).
collect_ignore = ["test_quickstart.py"] if sys.version_info >= (3, 13) else []


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """A fresh emulator per test on 127.0.0.1: 450 completions (98 seconds hold several), 5
    pages of 100. Parametrize it indirectly with Emulator keywords, e.g. shuffle_ties."""
    options = getattr(request, "param", {})
    with Emulator(generate(450), api_keys=[TEST_API_KEY, RESTRICTED_API_KEY], **options) as running:
        yield running


@pytest.fixture
def config(emulator: Emulator) -> dict[str, Any]:
    return {"api_key": TEST_API_KEY, "base_url": emulator.base_url}
