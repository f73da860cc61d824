"""`python -m quickstart`: sync stored chat completions into DuckDB and print a summary.

Reads the real OpenAI API when OPENAI_API_KEY is set (plus OPENAI_BASE_URL, OPENAI_ORG_ID,
OPENAI_PROJECT_ID, OPENAI_START_DATE if given), into .quickstart/openai_chat.duckdb; otherwise
the bundled local emulator's demo data, into .quickstart/demo.duckdb. A second run is
incremental: the state lives in the DuckDB file, which holds one origin only (the quick start
refuses to sync another origin into it).
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
DEFAULT_DEMO_DB = Path(".quickstart") / "demo.duckdb"
DEFAULT_PORT = 8765


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quickstart", description=__doc__)
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(os.environ["QUICKSTART_DB"]) if os.environ.get("QUICKSTART_DB") else None,
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("QUICKSTART_PORT", DEFAULT_PORT))
    )
    args = parser.parse_args(argv)
    real = real_api_config(environment())
    db_path = args.db or (DEFAULT_DB if real else DEFAULT_DEMO_DB)
    try:
        with origin(real, db_path, args.port) as source_origin:
            claim(db_path, source_origin)
            sync(source_origin, db_path)
    except QuickstartError as error:
        print(f"quickstart: {error}", file=sys.stderr)
        return 2
    return 0


@contextlib.contextmanager
def origin(config: dict | None, db_path: Path, port: int) -> Iterator[Origin]:
    if config:
        yield Origin("the OpenAI API (OPENAI_API_KEY is set)", config)
        return
    records = emulator_records(warehouse.row_count(db_path))
    with running_emulator(port, records) as base_url:
        yield emulator_origin(base_url)


def claim(db_path: Path, source_origin: Origin) -> None:
    """Mark the file as this origin's, or refuse a file that holds another origin's data."""
    holds = warehouse.origin_of(db_path)
    if holds is None and warehouse.row_count(db_path) > 0:
        raise QuickstartError(
            f"{db_path} already holds completions from an earlier quick start, which may be the "
            "demo's; syncing into it could mix them. Delete it, or set QUICKSTART_DB to "
            "another file."
        )
    if holds is not None and holds != source_origin.identity:
        raise QuickstartError(
            f"{db_path} holds {holds}; syncing {source_origin.identity} into it would mix them "
            "(and start from the other's state). Set QUICKSTART_DB to another file, or delete it."
        )
    warehouse.stamp(db_path, source_origin.identity)


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
        if not source_origin.is_demo:  # a real key may be wrong: say so before reading
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
    billed = warehouse.billed_summary(db_path)
    if billed:
        print("Billed by OpenAI (usage and costs), and the share stored completions account for:")
        print(warehouse.format_table(*billed))
        print()
    print(
        f"Read {result.processed_records:,} records from the source; loaded {after - before:,} "
        f"new completions; {after:,} in total."
    )
    messages = warehouse.row_count(db_path, warehouse.MESSAGES_TABLE)
    print(f"{messages:,} input messages in {warehouse.MESSAGES_TABLE}.")
    tables = [warehouse.TABLE, warehouse.MESSAGES_TABLE]
    if billed is not None:
        tables += ["projects", warehouse.USAGE_TABLE, warehouse.COSTS_TABLE]
    print(f"DuckDB file: {db_path.resolve()}  (tables {', '.join(tables)})")


def connector_executable() -> str:
    """The console script installed beside this interpreter, as PyAirbyte's local_executable."""
    script = Path(sys.executable).parent / "source-openai-chat"
    if not script.exists():
        raise QuickstartError("source-openai-chat is not installed here: run `make sync`.")
    return str(script)


if __name__ == "__main__":
    sys.exit(main())
