"""The deferrable indexes of the trades partitions (migration 072): left out of a partition a
bulk import starts empty, built when the import ends.

``orderflow_trades``' wallet+time, token+time, time and self-match indexes are plain indexes of
each partition, not partitioned ones. A bulk ``store_batch`` (``listen --from-file``, ``orderflow
import``, a long catch-up backfill) calls ``orderflow_trade_indexes_defer`` instead of
``orderflow_ensure_partitions_of`` before each batch (:func:`DEFER`, through
``partitions.ensure_for_batch``): a trades partition of the batch that is attached and EMPTY loses
them, so the import's rows go in with the primary key, the id and the transaction indexes only
(what the store's own statements use). :func:`build_missing` builds them back, one partition per
transaction (all or nothing: a crash mid-build leaves that partition as it was), at the end of
the import, and ``orderflow db partitions index`` does the same by hand.

Readers see every committed row all along: a partition without them is read by a scan instead of
an index, slower, never wrong. A killed import leaves its partition so until a running listener
builds them (``index_recovery``), the next bulk import or backfill ends or ``orderflow db
partitions index`` runs; ``orderflow db partitions`` and the reputation run name it.
"""

from __future__ import annotations

import re

import asyncpg

DEFER = "SELECT orderflow_trade_indexes_defer($1::bigint[])"
# Lacking one, or holding an invalid one (a killed CREATE INDEX CONCURRENTLY: index_recovery),
# which orderflow_trade_indexes_missing counts as present but no query uses.
MISSING = """
SELECT p::text FROM orderflow_trade_indexes_missing() AS p
UNION
SELECT i.inhrelid::regclass::text FROM pg_inherits i
 WHERE i.inhparent = 'orderflow_trades'::regclass
   AND EXISTS (SELECT 1 FROM orderflow_trade_index_defs() d,
                      orderflow_trade_index_oids(i.inhrelid, d.printed) AS o
                 JOIN pg_index x ON x.indexrelid = o WHERE NOT x.indisvalid)
ORDER BY 1
"""
BUILD = "SELECT orderflow_trade_indexes_build($1::regclass)"
DEFS = "SELECT suffix, ddl, printed FROM orderflow_trade_index_defs()"
HAS = "SELECT EXISTS (SELECT 1 FROM orderflow_trade_index_oids($1::regclass, $2))"
# The invalid indexes of partition $1 with definition $2
INVALID = """
SELECT o::regclass::text FROM orderflow_trade_index_oids($1::regclass, $2) AS o
  JOIN pg_index x ON x.indexrelid = o WHERE NOT x.indisvalid
"""


# Whether trades partition number $1's blocks reach a live listener's checkpoint: it writes
# there now or will (the head's partition, or one past it).
IN_LIVE_USE = """
SELECT EXISTS (SELECT 1 FROM orderflow_sync_checkpoints
                WHERE stream = 'listener'
                  AND block_number < ($1::bigint + 1) * orderflow_partition_blocks())
"""
_NUMBERED = re.compile(r"orderflow_trades_p(\d+)")


async def in_live_use(conn: asyncpg.Connection, name: str) -> bool:
    """Whether a live listener writes into partition ``name`` (one not named by its number:
    assumed so)."""
    numbered = _NUMBERED.fullmatch(name)
    return numbered is None or bool(await conn.fetchval(IN_LIVE_USE, int(numbered[1])))


async def missing(conn: asyncpg.Connection) -> list[str]:
    """The attached trades partitions lacking any deferrable index, by name."""
    return [r[0] for r in await conn.fetch(MISSING)]


async def build(conn: asyncpg.Connection, name: str) -> int:
    """Build partition ``name``'s missing indexes in one transaction (the caller's, if it is in
    one); how many. An invalid one (a killed concurrent build) is dropped and built again."""
    for _, _, printed in await conn.fetch(DEFS):
        for (invalid,) in await conn.fetch(INVALID, f'"{name}"', printed):
            await conn.execute(f"DROP INDEX {invalid}")
    return int(await conn.fetchval(BUILD, f'"{name}"'))


async def build_concurrently(conn: asyncpg.Connection, name: str) -> int:
    """Build partition ``name``'s missing indexes with ``CREATE INDEX CONCURRENTLY`` (outside
    any transaction: its writers carry on; slower, two passes); how many. An invalid one (a
    killed concurrent build) is dropped first and built again."""
    built = 0
    for suffix, ddl, printed in await conn.fetch(DEFS):
        for (invalid,) in await conn.fetch(INVALID, f'"{name}"', printed):
            await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {invalid}")
        if await conn.fetchval(HAS, f'"{name}"', printed):
            continue
        await conn.execute(f'CREATE INDEX CONCURRENTLY "{name}_{suffix}" ON "{name}" {ddl}')
        built += 1
    return built


async def build_missing(conn: asyncpg.Connection) -> list[str]:
    """Build every attached trades partition's missing indexes; the partitions built. One a
    live listener writes into (:func:`in_live_use`: a bulk import that reached the head's
    partition while it was empty) concurrently, so its inserts do not wait; any other in one
    transaction (``CREATE INDEX`` holds SHARE on that partition only: readers carry on, its
    writers wait; faster), all or nothing."""
    built: list[str] = []
    for name in await missing(conn):
        if await in_live_use(conn, name):
            if await build_concurrently(conn, name):
                built.append(name)
            continue
        async with conn.transaction():
            if await build(conn, name):
                built.append(name)
    return built


async def build_missing_in(pool: asyncpg.Pool) -> list[str]:
    """``build_missing`` on a connection of ``pool`` (a fresh one per call: safe to retry)."""
    async with pool.acquire() as conn:
        return await build_missing(conn)
