"""The per-(wallet, token) sums a bulk import deferred: folded in at its end or before a run.

A bulk ``store_batch`` (``bulk=True``: ``listen --from-file``, ``orderflow import``) leaves its
trades out of ``orderflow_position_sums`` and the wallet counters and records their id range in
``orderflow_position_sums_pending`` in the same transaction (migration 014). ``fold`` adds the
rows of every pending range with migration 011's own statement (its upsert in primary-key order
since migration 026) and forgets the ranges, in one transaction under the writer lock: the
import calls it when it is done, the reputation run before it reads the sums, so a crashed
import never leaves a run reading incomplete sums.
"""

from __future__ import annotations

import logging
import time

import asyncpg

log = logging.getLogger(__name__)

# A bulk import (a file, a history dump) folds its deferred sums every this many stored fills,
# not only at its end: each fold stays a statement of bounded size (one sort and upsert of every
# pending fill; a history file of a billion fills would otherwise fold them all in one statement,
# with its temporary space), and the folds cost no more: 750,000 fills folded every 250,000 took
# 19.3-21.4 s against 22.1-23.0 s at once (docs/benchmarks.md "Folding a bulk import as it goes").
FOLD_EVERY_FILLS = 250_000


class FoldSchedule:
    """When a bulk import folds as it goes: every :data:`FOLD_EVERY_FILLS` fills it stored."""

    def __init__(self) -> None:
        self.unfolded = 0  # fills stored since the last fold

    def due(self, stored: int) -> bool:
        """Count the fills a batch stored; True when a fold is due (the count restarts)."""
        self.unfolded += stored
        if self.unfolded < FOLD_EVERY_FILLS:
            return False
        self.unfolded = 0
        return True


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


# The reputation run's change logs past their bound, dropped (migration 057): no run took them.
CAP_CHANGES = "SELECT orderflow_reputation_changes_cap($1::bigint)"


async def cap_changes(conn: asyncpg.Connection, max_rows: int) -> list[str]:
    """Every change log a reputation run takes (the changed position sums of migration 030, about
    a row per stored fill; the markets, tokens, touched wallet rows and changed trades WASH
    reads) truncated once any holds more than ``max_rows`` rows, and the overflow recorded
    instead: the next live run is a full one, which needs no log (and builds the counterparty
    cells, as a run switched for a large change does). Costs one relation size per log while
    their files are too small to hold that many rows; skips (nothing dropped) while a reputation
    run holds its lock or a writer's transaction holds a log. Returns the logs found past the
    bound."""
    dropped: list[str] = await conn.fetchval(CAP_CHANGES, max_rows)
    if dropped:
        log.warning(
            "reputation change logs passed their bound (is the reputation run scheduled?): "
            "dropped; the next reputation run is a full one",
            extra={"logs": dropped, "max_rows": max_rows},
        )
    return dropped
