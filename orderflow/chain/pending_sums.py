"""The per-(wallet, token) sums a bulk import deferred: folded in at its end or before a run.

A bulk ``store_batch`` (``bulk=True``: ``listen --from-file``, ``orderflow import``) leaves its
trades out of ``orderflow_position_sums`` and the wallet counters and records their id range in
``orderflow_position_sums_pending`` in the same transaction (migration 014). ``fold`` adds the
rows of every pending range no writer holds with migration 011's own statement (its upsert in
primary-key order since migration 026) and forgets those ranges, in one transaction under the
fold lock (migration 080: not the writer lock, so an import's batches are stored while it
folds): the import calls it as it goes (:class:`BackgroundFolds`) and when it is done, the
reputation run before it reads the sums, so a crashed import never leaves a run reading
incomplete sums.
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
    """A bulk import's folds as it goes, beside its batches: ``fold`` (a fold on a connection
    of its own) started once :data:`BACKGROUND_FOLD_FILLS` fills are stored since the last
    start, one at a time (due while one runs: started after it, at the next batch);
    :meth:`finish` waits for the one running and folds what is left. A fold that failed stops
    the import at the next batch (its error); :meth:`close` cancels one still running (the
    import failed: its transaction rolls back, its ranges stay pending).

    ``beside=False`` (the import's pool has no second connection: a fold beside would wait for
    the import's own, which the import holds until it ends) folds between the batches instead,
    each when due."""

    def __init__(self, fold: Callable[[], Coroutine[Any, Any, object]], *, beside: bool) -> None:
        self._fold = fold
        self.beside = beside
        self.unfolded = 0  # fills stored since the last fold started
        self._task: asyncio.Task[object] | None = None

    def _running(self) -> bool:
        if self._task is None:
            return False
        if not self._task.done():
            return True
        task, self._task = self._task, None
        task.result()  # a fold that failed: its error, here
        return False

    async def stored(self, fills: int) -> None:
        """Count the fills a batch stored; start a fold when one is due and none runs (or,
        not ``beside``, fold now)."""
        self.unfolded += fills
        if self._running() or self.unfolded < BACKGROUND_FOLD_FILLS:
            return
        self.unfolded = 0
        if self.beside:
            self._task = asyncio.create_task(self._fold(), name="background-fold")
        else:
            await self._fold()

    async def finish(self) -> None:
        """The fold running, then one of everything still pending."""
        if self._task is not None:
            task, self._task = self._task, None
            await task
        await self._fold()

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
FOLD = "SELECT orderflow_position_sums_fold()"
PENDING = "SELECT count(*) FROM orderflow_position_sums_pending"


async def fold(conn: asyncpg.Connection, *, everything: bool = False) -> int:
    """Add the pending ranges' trades to the sums; return the number of ranges folded. A range
    a batch in flight is extending is left to the next fold (migration 080); ``everything``:
    the writer lock first, so no batch is in flight and every range is folded (what a detach
    and a reputation run need: batches wait meanwhile, as they did for every fold before)."""
    started = time.perf_counter()
    async with conn.transaction():
        if everything:
            await conn.execute(WRITER_LOCK)
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
