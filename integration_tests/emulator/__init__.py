"""Local emulator of the OpenAI stored chat completions API (see server.py)."""

from integration_tests.emulator.dataset import (
    Dataset,
    generate,
    generate_recent,
    make_completion,
    make_messages,
)
from integration_tests.emulator.server import (
    RESTRICTED_API_KEY,
    TEST_API_KEY,
    Emulator,
    Fault,
    LoggedRequest,
)

__all__ = [
    "RESTRICTED_API_KEY",
    "TEST_API_KEY",
    "Dataset",
    "Emulator",
    "Fault",
    "LoggedRequest",
    "generate",
    "generate_recent",
    "make_completion",
    "make_messages",
]
