"""Read back what was stored, every column that the data determines, for row-by-row equality."""

from __future__ import annotations

from typing import Any

import asyncpg

# Columns assigned by the database itself (identity, insertion time) or by the ingest batch's
# trace, not by the data: everything else must be identical.
_SKIP = {"id", "inserted_at", "traceparent"}


async def rows(pool: asyncpg.Pool, table: str) -> list[dict[str, Any]]:
    cols = [
        r["column_name"]
        for r in await pool.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = $1"
            " ORDER BY ordinal_position",
            table,
        )
        if r["column_name"] not in _SKIP
    ]
    query = f"SELECT {', '.join(cols)} FROM {table} ORDER BY chain_id, tx_hash, log_index"
    return [dict(r) for r in await pool.fetch(query)]
