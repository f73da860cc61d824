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


def row_count(db_path: Path, table: str = TABLE) -> int:
    """Rows in a table; 0 when the file or the table does not exist yet."""
    if not db_path.exists():
        return 0
    with duckdb.connect(str(db_path)) as db:
        found = db.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [SCHEMA, table],
        ).fetchone()
        if not found or not found[0]:
            return 0
        result = db.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(result[0]) if result else 0


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
