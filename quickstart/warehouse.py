"""The DuckDB side: what is there before a sync, and the summary read back after it."""

from __future__ import annotations

from pathlib import Path

import duckdb

# DuckDB's default schema: queries need no prefix, and no file name can collide with it.
SCHEMA = "main"
TABLE = "chat_completions"
MESSAGES_TABLE = "chat_completion_messages"

SUMMARY_SQL = f"""
SELECT
    strftime(to_timestamp(created), '%Y-%m-%d') AS day,
    model,
    count(*) AS completions,
    sum(CAST(usage->>'prompt_tokens' AS BIGINT)) AS prompt_tokens,
    sum(CAST(usage->>'completion_tokens' AS BIGINT)) AS completion_tokens,
    sum(CAST(usage->>'total_tokens' AS BIGINT)) AS total_tokens
FROM {TABLE}
GROUP BY ALL
ORDER BY day DESC, model
LIMIT 40
"""


USAGE_TABLE, COSTS_TABLE = "usage_completions", "costs"

# Per model and day: the tokens OpenAI billed (usage), the share of them the stored completions
# account for, and the cost. Costs name the model inside `line_item` ("<model>, input" in the
# demo; OpenAI does not document the format, so a real account's cost may not match a model).
BILLED_SQL = f"""
WITH billed AS (
    SELECT strftime(to_timestamp(start_time), '%Y-%m-%d') AS day, model,
           sum(input_tokens + output_tokens) AS billed_tokens
    FROM {USAGE_TABLE} GROUP BY ALL
), stored AS (
    SELECT strftime(to_timestamp(created), '%Y-%m-%d') AS day, model,
           sum(CAST(usage->>'total_tokens' AS BIGINT)) AS stored_tokens
    FROM {TABLE} GROUP BY ALL
), cost AS (
    SELECT strftime(to_timestamp(start_time), '%Y-%m-%d') AS day,
           split_part(line_item, ',', 1) AS model,
           sum(CAST(amount->>'value' AS DOUBLE)) AS cost
    FROM {COSTS_TABLE} GROUP BY ALL
)
SELECT billed.day, billed.model, billed.billed_tokens,
       round(100.0 * coalesce(stored.stored_tokens, 0) / billed.billed_tokens, 1) AS stored_pct,
       round(cost.cost, 4) AS cost_usd
FROM billed
LEFT JOIN stored USING (day, model)
LEFT JOIN cost USING (day, model)
WHERE billed.billed_tokens > 0
ORDER BY billed.day DESC, billed.model
LIMIT 40
"""


def billed_summary(db_path: Path) -> tuple[list[str], list[tuple]] | None:
    """Billed tokens, the stored share and cost per model and day; None without usage."""
    with duckdb.connect(str(db_path)) as db:
        if not (_has_table(db, USAGE_TABLE) and _has_table(db, COSTS_TABLE)):
            return None
        cursor = db.execute(BILLED_SQL)
        return [c[0] for c in cursor.description], cursor.fetchall()


def row_count(db_path: Path, table: str = TABLE) -> int:
    """Rows in a table; 0 when the file or the table does not exist yet."""
    if not db_path.exists():
        return 0
    with duckdb.connect(str(db_path)) as db:
        if not _has_table(db, table):
            return 0
        result = db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(result[0]) if result else 0


ORIGIN_TABLE = "_quickstart_origin"


def origin_of(db_path: Path) -> str | None:
    """Whose completions the file holds, as `stamp` wrote it; None for a new file or one
    written before the quick start stamped its files."""
    if not db_path.exists():
        return None
    with duckdb.connect(str(db_path)) as db:
        if not _has_table(db, ORIGIN_TABLE):
            return None
        row = db.execute(f"SELECT origin FROM {ORIGIN_TABLE}").fetchone()
        return str(row[0]) if row else None


def stamp(db_path: Path, origin: str) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db_path)) as db:
        db.execute(f"CREATE TABLE IF NOT EXISTS {ORIGIN_TABLE} (origin VARCHAR)")
        db.execute(f"DELETE FROM {ORIGIN_TABLE}")
        db.execute(f"INSERT INTO {ORIGIN_TABLE} VALUES (?)", [origin])


def _has_table(db: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [SCHEMA, table],
    ).fetchone()
    return bool(found and found[0])


def summary(db_path: Path) -> tuple[list[str], list[tuple]]:
    with duckdb.connect(str(db_path)) as db:
        cursor = db.execute(SUMMARY_SQL)
        return [c[0] for c in cursor.description], cursor.fetchall()


def format_table(columns: list[str], rows: list[tuple]) -> str:
    cells = [columns, *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [" | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)
