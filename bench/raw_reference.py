"""The physical limit for this API on this machine: a plain page loop, no connector.

A `requests.Session` loop that parses each page and writes each record as an Airbyte RECORD
line with orjson; `bench.run` compares the connector with it in the same run.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import requests

from integration_tests.emulator import TEST_API_KEY


def raw_loop(base_url: str, out: Path) -> int:
    """Read every completion newest first, as the connector does; return how many."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TEST_API_KEY}"
    params: dict[str, str] = {"order": "desc", "limit": "100"}
    count = 0
    with out.open("wb") as sink:
        while True:
            body = session.get(f"{base_url}/chat/completions", params=params).json()
            for record in body["data"]:
                message = {
                    "type": "RECORD",
                    "record": {"stream": "chat_completions", "data": record, "emitted_at": 0},
                }
                sink.write(orjson.dumps(message) + b"\n")
                count += 1
            if not body["has_more"] or not body["data"]:
                return count
            params["after"] = body["last_id"]
