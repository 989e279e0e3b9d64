"""The per-(wallet, token) sums a bulk import deferred: folded in at its end or before a run.

A bulk ``store_batch`` (``bulk=True``: ``listen --from-file``, ``orderflow import``) leaves its
trades out of ``orderflow_position_sums`` and the wallet counters and records their id range in
``orderflow_position_sums_pending`` in the same transaction (migration 014). ``fold`` adds the
rows of every pending range with migration 011's own statement and forgets the ranges, in one
transaction under the writer lock: the import calls it when it is done, the reputation run
before it reads the sums, so a crashed import never leaves a run reading incomplete sums.
"""

from __future__ import annotations

import logging
import time

import asyncpg

log = logging.getLogger(__name__)

FOLD = "SELECT orderflow_position_sums_fold()"
PENDING = "SELECT count(*) FROM orderflow_position_sums_pending"


async def fold(conn: asyncpg.Connection) -> int:
    """Add every pending range's trades to the sums; return the number of ranges folded."""
    started = time.perf_counter()
    async with conn.transaction():
        ranges: int = await conn.fetchval(FOLD)
    if ranges:
        log.info(
            "deferred position sums folded",
            extra={"ranges": ranges, "secs": round(time.perf_counter() - started, 3)},
        )
    return ranges


async def fold_in(pool: asyncpg.Pool) -> int:
    """``fold`` on a connection of ``pool`` (a fresh one per call: safe to retry)."""
    async with pool.acquire() as conn:
        return await fold(conn)


async def pending(conn: asyncpg.Connection) -> int:
    """How many id ranges of trades wait for ``fold``."""
    count: int = await conn.fetchval(PENDING)
    return count
