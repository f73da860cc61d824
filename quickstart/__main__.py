"""`python -m quickstart`: sync stored chat completions into DuckDB and print a summary.

Reads the real OpenAI API when OPENAI_API_KEY is set (plus OPENAI_BASE_URL, OPENAI_ORG_ID,
OPENAI_PROJECT_ID, OPENAI_START_DATE if given), otherwise the bundled local emulator. A second
run is incremental: the state lives in the DuckDB file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

from quickstart import warehouse
from quickstart.origin import (
    Origin,
    QuickstartError,
    emulator_origin,
    emulator_records,
    environment,
    real_api_config,
    running_emulator,
)

DEFAULT_DB = Path(".quickstart") / "openai_chat.duckdb"
DEFAULT_PORT = 8765


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quickstart", description=__doc__)
    parser.add_argument(
        "--db", type=Path, default=Path(os.environ.get("QUICKSTART_DB", DEFAULT_DB))
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("QUICKSTART_PORT", DEFAULT_PORT))
    )
    args = parser.parse_args(argv)
    try:
        with origin(args.db, args.port) as source_origin:
            sync(source_origin, args.db)
    except QuickstartError as error:
        print(f"quickstart: {error}", file=sys.stderr)
        return 2
    return 0


@contextlib.contextmanager
def origin(db_path: Path, port: int) -> Iterator[Origin]:
    config = real_api_config(environment())
    if config:
        yield Origin("the OpenAI API (OPENAI_API_KEY is set)", config)
        return
    records = emulator_records(warehouse.row_count(db_path))
    with running_emulator(port, records) as base_url:
        yield emulator_origin(base_url)


def sync(source_origin: Origin, db_path: Path) -> None:
    # PyAirbyte reads this at import time: without it, it looks up a registry on the internet.
    os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
    warnings.filterwarnings("ignore", category=FutureWarning)  # Google clients' Python notices
    import airbyte
    from airbyte.caches import DuckDBCache
    from airbyte.exceptions import AirbyteConnectorCheckFailedError, PyAirbyteError

    db_path.parent.mkdir(parents=True, exist_ok=True)
    before = warehouse.row_count(db_path)
    print(f"Syncing from {source_origin.description}")
    print(f"into {db_path.resolve()} ({before:,} completions there now)", flush=True)
    source = airbyte.get_source(
        "source-openai-chat",
        config=source_origin.config,
        local_executable=connector_executable(),
        streams="*",
    )
    cache = DuckDBCache(db_path=db_path, schema_name=warehouse.SCHEMA)
    try:
        source.check()
        result = source.read(cache=cache)
    except AirbyteConnectorCheckFailedError as error:
        reason = (error.context or {}).get("failure_reason") or error.message
        raise QuickstartError(f"The connection check failed: {reason}") from None
    except PyAirbyteError as error:
        raise QuickstartError(f"The sync failed: {error.message or error}") from None
    finally:
        cache.close()  # release the file: the summary below opens it with DuckDB itself

    after = warehouse.row_count(db_path)
    print()
    print(warehouse.format_table(*warehouse.summary(db_path)))
    print()
    print(
        f"Read {result.processed_records:,} records from the source; loaded {after - before:,} "
        f"new completions; {after:,} in total."
    )
    messages = warehouse.row_count(db_path, warehouse.MESSAGES_TABLE)
    print(f"{messages:,} input messages in {warehouse.MESSAGES_TABLE}.")
    print(
        f"DuckDB file: {db_path.resolve()}  (tables {warehouse.TABLE}, {warehouse.MESSAGES_TABLE})"
    )


def connector_executable() -> str:
    """The console script installed beside this interpreter, as PyAirbyte's local_executable."""
    script = Path(sys.executable).parent / "source-openai-chat"
    if not script.exists():
        raise QuickstartError("source-openai-chat is not installed here: run `make sync`.")
    return str(script)


if __name__ == "__main__":
    sys.exit(main())
