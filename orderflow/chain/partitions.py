"""Block-range partitions (migration 012): made before rows arrive, listed, detached, attached.

``orderflow_trades`` and ``orderflow_matches`` are partitioned by ``RANGE (block_number)``, one
partition per 1,296,000 blocks (30 days of Polygon's 2-second blocks), named ``<table>_p<n>`` for
blocks ``[n * 1296000, (n + 1) * 1296000)``; partition ``n`` of both tables holds the same
blocks and they are detached and attached together. There is no default partition (attaching a
range later would scan it), so a writer makes sure the partitions of its rows exist first:
:func:`ensure_for_batch` before each stored batch, in its own short transaction (the SQL function
``orderflow_ensure_partitions`` is idempotent and safe with two writers; a new partition is
created as a plain table and attached, which does not block readers or other writers).

An old partition is detached (``DETACH PARTITION … CONCURRENTLY``: readers and writers carry
on) and becomes a plain table holding its month of fills or matches; archiving it means
``pg_dump -t <name>`` to cold storage and then ``DROP TABLE <name>`` (or moving it to a
tablespace on slower disk). Re-attaching validates its range with one scan of that table only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import asyncpg

from orderflow.chain import partition_indexes
from orderflow.chain.decode import DecodedBatch
from orderflow.chain.pending_sums import fold as fold_pending_sums
from orderflow.errors import ConfigError

TABLES = ("orderflow_trades", "orderflow_matches")
_NUMBER = re.compile(r"^(?:(?:orderflow_trades|orderflow_matches)_)?p?(\d{1,6})$")

ENSURE = "SELECT orderflow_ensure_partitions($1::bigint, $2::bigint)"
ENSURE_OF = "SELECT orderflow_ensure_partitions_of($1::bigint[])"  # migration 052
SPAN = "SELECT orderflow_partition_blocks()"

# Attached partitions and tables named like one that are not attached (detached for archiving).
# Row counts are the planner's estimates (reltuples): cheap.
LIST = r"""
SELECT p.relname AS parent, c.relname AS name,
       substring(c.relname from '_p([0-9]+)$')::bigint AS number,
       i.inhrelid IS NOT NULL AS attached,
       greatest(c.reltuples, 0)::bigint AS rows_estimate,
       pg_total_relation_size(c.oid) AS bytes
  FROM unnest($1::text[]) AS t(parent_name)
  JOIN pg_class p ON p.oid = to_regclass(t.parent_name)
  JOIN pg_class c ON c.relname ~ ('^' || t.parent_name || '_p[0-9]{4,}$')
                 AND c.relnamespace = p.relnamespace AND c.relkind = 'r'
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = p.oid
 ORDER BY number, array_position($1::text[], p.relname::text)
"""

# A partition's time and id range (migration 018, read by orderflow.chain.pruning): forgotten
# when it is detached, recomputed from its rows when it is attached.
FORGET_RANGE = """
DELETE FROM orderflow_trade_partition_ranges
 WHERE relid IN (SELECT to_regclass(quote_ident(n))::oid FROM unnest($1::text[]) AS n)
"""
REFRESH_RANGE = "SELECT orderflow_trade_ranges_refresh($1::regclass)"
REFRESH_ALL_RANGES = "SELECT orderflow_trade_ranges_refresh()"

# State the reputation run derives from every attached partition's fills (the counterparty
# evidence's partial sums, migration 023): stale once a partition goes or comes back, so the next
# run rebuilds it (SQL only: chain does not import reputation). orderflow.reputation.wash_parts
# also compares the attached partitions with those it counted, for a detach or attach by hand (a
# partition made by orderflow_ensure_partitions, holding only new fills, needs no rebuild).
STALE_DERIVED = "UPDATE orderflow_wash_state SET valid = FALSE, updated_at = now()"

# A partition attached again, for the next reputation run (migration 076): while it was detached,
# the runs read the closing lines, marks and voided fills of what they rescored from the attached
# fills only and stored them; the next run is a full one, which reads them from every fill.
MARK_REATTACHED = "UPDATE orderflow_reputation_state SET reattached = TRUE, updated_at = now()"

# The bounds of a partition's fills taken back into the per-(wallet, token) sums once it is
# attached again. A fill deleted while the partition was detached (a reorg's rollback, a
# retracted block, an import replaced) re-bounded its key (first and last fill, the taker's first,
# market and outcome: migration 030's rebound) from the attached fills only; a key's bounds are the
# least (greatest) of those and the partition's own -- what they were when no fill was deleted --
# from one aggregation of the partition (the sums' own statement, migration 011). A key changed is
# logged for the next reputation run. {src}: the partition's sums (orderflow_position_sums_sql).
PARTITION_SUMS = "SELECT orderflow_position_sums_sql($1)"
_BOUNDS = (
    ("trade_market_id", "least"),
    ("trade_outcome_index", "least"),
    ("taker_first_at", "least"),
    ("first_at", "least"),
    ("last_at", "greatest"),
)
_NEW_BOUNDS = ", ".join(f"{f}(a.{c}, p.{c})" for c, f in _BOUNDS)
REBOUND_ATTACHED = f"""
WITH p AS ({{src}}), up AS (
    UPDATE orderflow_position_sums a
       SET {", ".join(f"{c} = {f}(a.{c}, p.{c})" for c, f in _BOUNDS)}
      FROM p
     WHERE a.wallet_address = p.wallet_address AND a.token_id = p.token_id
       AND ({", ".join(f"a.{c}" for c, _ in _BOUNDS)}) IS DISTINCT FROM ({_NEW_BOUNDS})
    RETURNING a.wallet_address, a.token_id
)
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT wallet_address, token_id FROM up
"""

# The newest block any stream has stored: its partition is where the listener writes.
NEWEST_CHECKPOINT = "SELECT max(block_number) FROM orderflow_sync_checkpoints"


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    number: int
    first_block: int
    last_block: int
    attached: bool
    rows_estimate: int
    bytes: int


def number_of(name: str) -> int:
    """The partition number in ``61``, ``p0061`` or ``orderflow_trades_p0061``."""
    m = _NUMBER.match(name.strip())
    if m is None:
        raise ConfigError(
            f"not a partition: {name!r} (expected a number like 61, or orderflow_trades_p0061)"
        )
    return int(m.group(1))


def name_of(number: int, table: str = "orderflow_trades") -> str:
    return f"{table}_p{number:04d}"


async def ensure(conn: asyncpg.Connection, lo: int, hi: int) -> int:
    """Create the missing partitions (of both tables) for blocks ``lo..hi``; how many."""
    return int(await conn.fetchval(ENSURE, lo, hi))


async def ensure_for_batch(
    conn: asyncpg.Connection,
    batch: DecodedBatch,
    rendered: Iterable[int] = (),
    *,
    defer: bool = False,
) -> int:
    """The partitions a batch's fills and matches go to, and only those (one catalog probe
    each when they exist; not every partition between its lowest and highest block, which one
    far block of a hostile file made millions); ``rendered``: the blocks of fills and matches
    passed already rendered (``CopyRows.block_numbers``). ``defer`` (a bulk import's batch):
    the deferrable indexes of an empty trades partition among them are dropped too
    (``partition_indexes``; returns how many partitions that changed)."""
    blocks = {e.ref.block_number for group in (batch.fills, batch.matches) for e in group}
    blocks.update(rendered)
    if not blocks:
        return 0
    return int(await conn.fetchval(partition_indexes.DEFER if defer else ENSURE_OF, sorted(blocks)))


async def span_blocks(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(SPAN))


async def partitions(conn: asyncpg.Connection) -> list[Partition]:
    """Every partition of both tables, attached or detached, by number then table."""
    span = await span_blocks(conn)
    return [
        Partition(
            table=r["parent"],
            name=r["name"],
            number=r["number"],
            first_block=r["number"] * span,
            last_block=(r["number"] + 1) * span - 1,
            attached=r["attached"],
            rows_estimate=r["rows_estimate"],
            bytes=r["bytes"],
        )
        for r in await conn.fetch(LIST, list(TABLES))
    ]


async def _of(conn: asyncpg.Connection, name: str) -> tuple[int, list[Partition]]:
    n = number_of(name)
    found = [p for p in await partitions(conn) if p.number == n]
    if not found:
        raise ConfigError(f"no partition {n} ({name_of(n)}): see `orderflow db partitions`")
    return n, found


async def detach(
    conn: asyncpg.Connection, name: str, *, concurrently: bool = True
) -> list[Partition]:
    """Detach partition ``name`` of both tables (each stays a plain table with its rows); state
    derived from every attached partition is marked stale (``STALE_DERIVED``).

    Refuses the partition holding the newest checkpointed block (where the listener writes).
    Folds the per-(wallet, token) sums a bulk import left pending first (``pending_sums``).
    ``concurrently`` (the default) does not block readers and writers; it cannot run inside a
    transaction block, so ``conn`` must not be in one.
    """
    _, found = await _of(conn, name)
    attached = [p for p in found if p.attached]
    if not attached:
        raise ConfigError(f"partition {found[0].number} is not attached")
    newest = await conn.fetchval(NEWEST_CHECKPOINT)
    if newest is not None and found[0].first_block <= newest <= found[0].last_block:
        raise ConfigError(
            f"partition {found[0].number} holds block {newest}, the newest checkpointed block:"
            " the listener writes there; detach only older partitions"
        )
    # Sums a bulk import deferred: folded first, or the detached rows would never be.
    await fold_pending_sums(conn, everything=True)
    how = " CONCURRENTLY" if concurrently else ""
    for p in attached:
        await conn.execute(f'ALTER TABLE {p.table} DETACH PARTITION "{p.name}"{how}')
    # its time and id range (migration 018) goes too: re-attached, it is recomputed
    await conn.execute(FORGET_RANGE, [p.name for p in attached])
    await conn.execute(STALE_DERIVED)
    return [replace(p, attached=False) for p in found]


async def attach(conn: asyncpg.Connection, name: str) -> list[Partition]:
    """Re-attach partition ``name`` of both tables (one scan of each to validate its range),
    with the trades partition's time and id range recomputed (migration 018), its fills' bounds
    taken back into the per-(wallet, token) sums (``REBOUND_ATTACHED``: one more scan of it),
    state derived from every attached partition marked stale (``STALE_DERIVED``) and the next
    reputation run made a full one (``MARK_REATTACHED``)."""
    _, found = await _of(conn, name)
    async with conn.transaction():
        for p in found:
            if not p.attached:
                await conn.execute(
                    f'ALTER TABLE {p.table} ATTACH PARTITION "{p.name}"'
                    f" FOR VALUES FROM ({p.first_block}) TO ({p.last_block + 1})"
                )
        # the rows came back without an insert: their time and id range is recomputed (in the
        # same transaction, so no reader sees the partition without it), and their keys' bounds
        # in the sums
        for p in found:
            if p.table == "orderflow_trades":
                # the deferrable indexes are the partition's own (migration 072): one detached
                # before it, or while a bulk import filled it, may lack them
                await partition_indexes.build(conn, p.name)
                await conn.execute(REFRESH_RANGE, f'"{p.name}"')
                src = await conn.fetchval(PARTITION_SUMS, f'"{p.name}"')
                await conn.execute(REBOUND_ATTACHED.format(src=src))
        await conn.execute(STALE_DERIVED)
        await conn.execute(MARK_REATTACHED)
    return [replace(p, attached=True) for p in found]


async def refresh_ranges(conn: asyncpg.Connection) -> int:
    """Recompute every attached trades partition's time and id range from its rows (migration
    018); returns how many. Needed after rows arrived without the insert trigger (a load with
    triggers disabled, a data-only restore into an attached partition): until then a reader
    bounded by time or id can skip those rows."""
    async with conn.transaction():
        count: int = await conn.fetchval(REFRESH_ALL_RANGES)
    return count
