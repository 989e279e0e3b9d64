"""The token registry's rows: the columns ``store.store_batch`` inserts, and ``store_tokens``.

``store_tokens`` adds verified registry rows from outside the chain (e.g. Gamma markets) with
the same statements ``store_batch`` uses for its registry, and joins older trades and matches
to their market; ``write_tokens`` does the same inside a caller's transaction that holds the
writer lock (the Gamma import writes a batch's tokens and resolutions in one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.store_sql import row_count
from orderflow.chain.tokens import TokenInfo


def token_columns(tokens: Iterable[TokenInfo]) -> list[list[Any]]:
    """The ``INSERT_TOKENS`` arguments: one list per column."""
    cols: list[list[Any]] = [[] for _ in range(8)]
    for t in tokens:
        cols[0].append(str(t.token_id))
        cols[1].append(t.condition_id)
        cols[2].append(t.outcome_index)
        cols[3].append(None if t.complement_token_id is None else str(t.complement_token_id))
        cols[4].append(t.neg_risk)
        cols[5].append(t.collateral)
        cols[6].append(t.generation)
        cols[7].append(t.source)
    return cols


async def store_tokens(conn: asyncpg.Connection, tokens: Sequence[TokenInfo]) -> tuple[int, int]:
    """Add verified registry rows (e.g. from Gamma markets) and join older trades to them.

    The same statements as ``store_batch`` uses for its registry, in one transaction under the
    writer lock; existing ids keep their row (Gamma's rows only note that Gamma lists a chain
    token, ``INSERT_TOKENS``). Returns (new tokens, trades that got their market).
    """
    if not tokens:
        return 0, 0
    async with conn.transaction():
        await conn.execute(sql.WRITER_LOCK)
        return await write_tokens(conn, tokens)


async def write_tokens(conn: asyncpg.Connection, tokens: Sequence[TokenInfo]) -> tuple[int, int]:
    """``store_tokens``' writes, in the caller's transaction, which holds ``sql.WRITER_LOCK``."""
    if not tokens:
        return 0, 0
    unique = {t.token_id: t for t in tokens}  # a market listed twice in one batch
    rows = await conn.fetch(sql.INSERT_TOKENS, *token_columns(unique.values()))
    new = [r[0] for r in rows if r[1]]
    backfilled = 0
    if new:
        backfilled = row_count(await conn.execute(sql.BACKFILL_TRADE_MARKETS, new))
        await conn.execute(sql.BACKFILL_MATCH_MARKETS, new)
    return len(new), backfilled
