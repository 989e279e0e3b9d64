"""The per-(wallet, token) sums a bulk import deferred: folded in at its end or before a run.

A bulk ``store_batch`` (``bulk=True``: ``listen --from-file``, ``orderflow import``) leaves its
trades out of ``orderflow_position_sums`` and the wallet counters and records their id range in
``orderflow_position_sums_pending`` in the same transaction (migration 014). ``fold`` adds the
rows of every pending range no writer holds with migration 011's own statement (its upsert in
primary-key order since migration 026) and forgets those ranges, in one transaction under the
fold lock (migration 080: not the writer lock, so an import's batches are stored while it
folds; since 081 it claims the ranges first, then folds exactly those): the import calls it
as it goes (:class:`BackgroundFolds`) and when it is done, the reputation run before it reads
the sums, so a crashed import never leaves a run reading incomplete sums.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

from orderflow.chain.store_sql import WRITER_LOCK

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


# A file import folds beside its batches (migration 080) every this many stored fills: small
# enough that most of its sums are folded while it stores (the fold's CPU on the other core,
# where the decoding processes leave room), and its last fold, alone at its end, is short.
BACKGROUND_FOLD_FILLS = 25_000


class BackgroundFolds:
    """A bulk import's folds as it goes, beside its batches: every :data:`BACKGROUND_FOLD_FILLS`
    stored fills, ``fold`` (a fold on a connection of its own, given an event it sets once its
    ranges are claimed) is started and :meth:`stored` returns once it has claimed the ranges
    pending then (migration 081): the batches after it record ranges of their own, left to the
    next fold. One at a time: a fold due while the last still runs waits for it (the import
    stays at most one fold behind). :meth:`finish` waits for the one running and folds what is
    left. A fold that failed stops the import at the next batch (its error); :meth:`close`
    cancels one still running (the import failed: its transaction rolls back, its ranges stay
    pending).

    ``beside=False`` (the import's pool has no second connection: a fold beside would wait for
    the import's own, which the import holds until it ends) folds between the batches instead,
    each when due."""

    def __init__(
        self, fold: Callable[[asyncio.Event], Coroutine[Any, Any, object]], *, beside: bool
    ) -> None:
        self._fold = fold
        self.beside = beside
        self.unfolded = 0  # fills stored since the last fold started
        self._task: asyncio.Task[object] | None = None

    async def _ended(self) -> None:
        """The fold running, once it has ended (its error, if it failed)."""
        if self._task is not None:
            task, self._task = self._task, None
            await task

    async def stored(self, fills: int) -> None:
        """Count the fills a batch stored; when a fold is due, start one once the last has
        ended and return when it has claimed its ranges (or, not ``beside``, fold now)."""
        self.unfolded += fills
        if self._task is not None and self._task.done():
            await self._ended()  # a fold that failed: its error, here
        if self.unfolded < BACKGROUND_FOLD_FILLS:
            return
        self.unfolded = 0
        await self._ended()
        claimed = asyncio.Event()
        if not self.beside:
            await self._fold(claimed)
            return
        self._task = asyncio.create_task(self._fold(claimed), name="background-fold")
        waiting = asyncio.create_task(claimed.wait())
        try:  # claimed, or it ended first (nothing pending, or an error: raised here)
            await asyncio.wait((self._task, waiting), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        if self._task.done():
            await self._ended()

    async def finish(self) -> None:
        """The fold running, then one of everything still pending."""
        await self._ended()
        await self._fold(asyncio.Event())

    async def close(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


# The fold's own lock (migration 080), held exclusively by a fold for its transaction. Whatever
# asks which stored rows are pending and acts on the answer (a delete that takes them out of the
# wallet counters: rollback_from, a retraction, the store's replacement of a row; a batch that is
# not bulk, whose insert trigger adds to the sums) takes it shared first, so that no fold holds
# a range between its read of the rows and its commit meanwhile. Key: b"ordffold".
FOLD_LOCK_SHARED = "SELECT pg_advisory_xact_lock_shared(orderflow_fold_lock_key())"
FOLD = "SELECT orderflow_position_sums_fold()"  # claim and fold, in one statement
# A fold's two steps (migration 081): the fold lock and the pending ranges no writer holds,
# locked (their ids); those ranges folded and forgotten.
CLAIM = "SELECT orderflow_position_sums_fold_claim()"
FOLD_CLAIMED = "SELECT orderflow_position_sums_fold($1::bigint[])"
PENDING = "SELECT count(*) FROM orderflow_position_sums_pending"


async def fold(
    conn: asyncpg.Connection, *, everything: bool = False, claimed: asyncio.Event | None = None
) -> int:
    """Add the pending ranges' trades to the sums; return the number of ranges folded. A range
    a batch in flight is extending is left to the next fold (migration 080); ``claimed`` is set
    once the ranges to fold are locked (a batch that starts after records a range of its own,
    for the next fold). ``everything``: the writer lock first, so no batch is in flight and
    every range is folded (what a detach and a reputation run need: batches wait meanwhile, as
    they did for every fold before)."""
    started = time.perf_counter()
    async with conn.transaction():
        if everything:
            await conn.execute(WRITER_LOCK)
        folding: list[int] = await conn.fetchval(CLAIM)
        if claimed is not None:
            claimed.set()
        ranges: int = await conn.fetchval(FOLD_CLAIMED, folding) if folding else 0
    if ranges:
        log.info(
            "deferred position sums folded",
            extra={"ranges": ranges, "secs": round(time.perf_counter() - started, 3)},
        )
    return ranges


async def fold_in(pool: asyncpg.Pool, claimed: asyncio.Event | None = None) -> int:
    """``fold`` on a connection of ``pool`` (a fresh one per call: safe to retry)."""
    async with pool.acquire() as conn:
        return await fold(conn, claimed=claimed)


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
