"""The incremental run's closing-line stage reads the stored lines of its changed tokens alone,
not every token's (``orderflow.reputation.probe``).

At 1 M wallets an hour changes ≈ 4,000 of 200,000 tokens: ``detached_lines.keep`` joined the
changed tokens' new lines with every stored line (a hash join over the table, 201,548 rows;
docs/benchmarks.md "The hourly run's rescored wallets at 1 M"). Here the same proportion: a few
changed tokens among many stored lines no change touches (padding), and the rows read of the
stored lines counted (``pg_stat_xact_user_tables``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import (
    detached_lines,
    incremental,
)
from orderflow.reputation.detached_lines import CLOSES
from tests.reputation.test_incremental_probes import (
    CHANGED,
    _reads,
    changed_hour,
)

# Stored lines of tokens nobody holds: a copy of a stored line under new tokens.
_PAD_LINES = f"""
INSERT INTO {CLOSES}
SELECT (jsonb_populate_record(NULL::{CLOSES},
        to_jsonb(c) || jsonb_build_object('token_id', 8e75::numeric + i))).*
  FROM (SELECT * FROM {CLOSES} ORDER BY token_id LIMIT 1) c
 CROSS JOIN generate_series(1, $1::int) i
"""


@pytest.mark.parametrize("seed", [5, 7])
async def test_the_stored_lines_are_read_at_the_changed_tokens(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """``detached_lines.keep`` in an incremental run reads the stored lines of the changed
    tokens (those of ``rep_close``), a handful of rows, not the table."""
    settings = await changed_hour(pool, seed, (_PAD_LINES, CLOSES))
    read: dict[str, int] = {}
    keep: Callable[..., Awaitable[None]] = detached_lines.keep

    async def counted(conn: asyncpg.Connection, as_of: datetime, **kw: Any) -> None:
        before = await _reads(conn, CLOSES)
        await keep(conn, as_of, **kw)
        read["lines"] = (await _reads(conn, CLOSES))[CLOSES] - before[CLOSES]
        read["tokens"] = int(await conn.fetchval("SELECT count(*) FROM rep_close"))

    monkeypatch.setattr(detached_lines, "keep", counted)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
        as_of = await conn.fetchval("SELECT now()")
        await incremental.build(conn, as_of, settings)
        stored = await conn.fetchval(f"SELECT count(*) FROM {CLOSES}")
    assert read["tokens"] >= CHANGED, read
    assert stored > 10 * read["tokens"], (stored, read)
    assert read["lines"] <= 4 * read["tokens"], (read, stored)
