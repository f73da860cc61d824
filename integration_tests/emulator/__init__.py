"""Local emulator of the OpenAI stored chat completions API (see server.py)."""

from integration_tests.emulator.dataset import (
    Dataset,
    generate,
    generate_recent,
    make_completion,
    make_messages,
)
from integration_tests.emulator.organization import Request
from integration_tests.emulator.server import (
    DEFAULT_PROJECT,
    RESTRICTED_API_KEY,
    TEST_ADMIN_KEY,
    TEST_API_KEY,
    Emulator,
    Fault,
    LoggedRequest,
)

__all__ = [
    "DEFAULT_PROJECT",
    "RESTRICTED_API_KEY",
    "TEST_ADMIN_KEY",
    "TEST_API_KEY",
    "Dataset",
    "Emulator",
    "Fault",
    "LoggedRequest",
    "Request",
    "generate",
    "generate_recent",
    "make_completion",
    "make_messages",
]
