"""The deferred indexes a killed bulk import left out, found and built by a running listener.

A bulk import (``listen --from-file``, ``orderflow import``, a long catch-up backfill) leaves the
deferrable indexes out of the trades partitions it starts empty and builds them at its end
(``partition_indexes``). Killed before its end, it leaves them unindexed: every query by wallet,
token or time then scans them (the reputation run, the executor's signals, ``orderflow wallet``),
correct but slow, until something builds them.

Every bulk import holds :data:`BULK_LOCK` SHARED for its whole run (:func:`bulk_import`, session
level: a killed import's backend ends with its connection, and the lock with it). The listener
(:func:`recover_forever`, a task beside its sessions, never on the store's path) looks every
:data:`CHECK_SECS` for partitions lacking them; when the EXCLUSIVE try-lock succeeds (no bulk
import is running) it builds them with ``CREATE INDEX CONCURRENTLY``: the partition's writers (the
live listener's own inserts) are not blocked while it builds. Otherwise it logs a WARNING naming
them and leaves them to the import's end. ``orderflow_listener_unindexed_partitions`` counts them.

The lock is an optimisation, not what keeps rows right: a concurrent build beside a running import
(its lock lost with a failed-over connection) waits for the import's transactions and is correct;
the import's end then finds them built.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg

from orderflow.chain import partition_indexes
from orderflow.chain.db_errors import TRANSIENT_DB_ERRORS

log = logging.getLogger(__name__)

BULK_LOCK = 0x6F72_6466_6275_6C6B  # "ordfbulk"
_HOLD = f"SELECT pg_try_advisory_lock_shared({BULK_LOCK})"
_RELEASE = f"SELECT pg_advisory_unlock_shared({BULK_LOCK})"
_TRY_ALONE = f"SELECT pg_try_advisory_lock({BULK_LOCK})"
_RELEASE_ALONE = f"SELECT pg_advisory_unlock({BULK_LOCK})"

HOLD_POLL_SECS = 1.0

# How often a listener looks again (a killed import's partition found within this long).
CHECK_SECS = 600.0


async def hold(conn: asyncpg.Connection) -> None:
    """Mark ``conn``'s session as a running bulk import; while a listener's recovery builds,
    wait for it. Polled, not a blocking lock call: a waiting statement is a transaction the
    concurrent build would wait for in turn (a deadlock PostgreSQL would end by failing one)."""
    waited = False
    while not await conn.fetchval(_HOLD):
        if not waited:
            log.info("a listener is building deferred indexes; the import waits for it")
            waited = True
        await asyncio.sleep(HOLD_POLL_SECS)


async def release(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(*TRANSIENT_DB_ERRORS, asyncpg.InterfaceError):
        await conn.execute(_RELEASE)


@contextlib.asynccontextmanager
async def bulk_import(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Hold the bulk-import lock on a connection of ``pool`` for the block's run. A pool of one
    connection cannot spare it (the benchmarks' single-backend imports): the import then runs
    without it, and a listener's recovery may build beside it (correct, only slower)."""
    if pool.get_max_size() < 2:
        yield
        return
    async with pool.acquire() as conn:
        await hold(conn)
        try:
            yield
        finally:
            await release(conn)


async def recover(pool: asyncpg.Pool) -> tuple[list[str], list[str]]:
    """One look: (the partitions built, those left unindexed because a bulk import runs)."""
    async with pool.acquire() as conn:
        missing = await partition_indexes.missing(conn)
        if not missing:
            return [], []
        if not await conn.fetchval(_TRY_ALONE):
            return [], missing
        try:
            built = []
            for name in await partition_indexes.missing(conn):  # again, under the lock
                await partition_indexes.build_concurrently(conn, name)
                built.append(name)
            return built, []
        finally:
            await conn.execute(_RELEASE_ALONE)


async def recover_forever(
    pool: asyncpg.Pool, unindexed: Callable[[int], None] | None = None
) -> None:
    """:func:`recover` now and every :data:`CHECK_SECS`, until cancelled; a database error is
    logged and the next look tries again. ``unindexed`` gets how many were left unindexed."""
    while True:
        try:
            built, left = await recover(pool)
        except (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError, OSError) as exc:
            log.warning(
                "could not look for unindexed trades partitions; trying again later",
                extra={"reason": f"{type(exc).__name__}: {exc}"},
            )
        else:
            if built:
                log.info(
                    "built the deferred indexes a killed bulk import left out",
                    extra={"partitions": built},
                )
            if left:
                log.warning(
                    "trades partitions without their wallet/token/time indexes (a bulk import "
                    "is running: its end builds them; queries on them scan meanwhile)",
                    extra={"partitions": left},
                )
            if unindexed is not None:
                unindexed(len(left))
        await asyncio.sleep(CHECK_SECS)
