"""``orderflow_trades``' partitions (migration 012): made before rows arrive, listed, detached.

``orderflow_trades`` is partitioned by ``RANGE (block_number)``, one partition per 1,296,000 blocks
(30 days of Polygon's 2-second blocks), named ``orderflow_trades_p<n>`` for blocks
``[n * 1296000, (n + 1) * 1296000)``. There is no default partition (attaching a range later
would scan it), so a writer makes sure the partitions of its rows exist first:
:func:`ensure_for_batch` before each stored batch, in its own short transaction (the SQL function
``orderflow_trades_ensure_partitions`` is idempotent and safe with two writers; a new partition
is created as a plain table and attached, which does not block readers or other writers).

An old partition is detached (``DETACH PARTITION … CONCURRENTLY``: readers and writers carry
on) and becomes a plain table holding its month of trades; archiving it means
``pg_dump -t <name>`` to cold storage and then ``DROP TABLE <name>`` (or moving it to a
tablespace on slower disk). Re-attaching validates its range with one scan of that table only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from orderflow.chain.decode import DecodedBatch
from orderflow.errors import ConfigError

PREFIX = "orderflow_trades_p"
_NAME = re.compile(r"^orderflow_trades_p(\d{4,})$")

ENSURE = "SELECT orderflow_trades_ensure_partitions($1::bigint, $2::bigint)"
SPAN = "SELECT orderflow_trades_partition_blocks()"

# Attached partitions (with their bounds) and tables named like one that are not attached
# (detached for archiving). Row counts are the planner's estimates (reltuples): cheap.
LIST = r"""
SELECT c.relname AS name,
       i.inhrelid IS NOT NULL AS attached,
       pg_get_expr(c.relpartbound, c.oid) AS bound,
       greatest(c.reltuples, 0)::bigint AS rows_estimate,
       pg_total_relation_size(c.oid) AS bytes
  FROM pg_class c
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'orderflow_trades'::regclass
 WHERE c.relkind = 'r'
   AND c.relname ~ '^orderflow_trades_p[0-9]{4,}$'
   AND c.relnamespace = (SELECT relnamespace FROM pg_class
                          WHERE oid = 'orderflow_trades'::regclass)
 ORDER BY c.relname
"""

# The newest block any stream has stored: its partition is where the listener writes.
NEWEST_CHECKPOINT = "SELECT max(block_number) FROM orderflow_sync_checkpoints"


@dataclass(frozen=True)
class Partition:
    name: str
    first_block: int
    last_block: int
    attached: bool
    rows_estimate: int
    bytes: int


def number_of(name: str) -> int:
    """The partition number in ``orderflow_trades_p<n>``; ConfigError for any other name."""
    m = _NAME.match(name)
    if m is None:
        raise ConfigError(f"not a trades partition: {name!r} (expected {PREFIX}<nnnn>)")
    return int(m.group(1))


def name_of(number: int) -> str:
    return f"{PREFIX}{number:04d}"


def block_range(blocks: Iterable[int]) -> tuple[int, int] | None:
    lo: int | None = None
    hi: int | None = None
    for b in blocks:
        if lo is None or b < lo:
            lo = b
        if hi is None or b > hi:
            hi = b
    return None if lo is None or hi is None else (lo, hi)


async def ensure(conn: asyncpg.Connection, lo: int, hi: int) -> int:
    """Create the missing partitions for blocks ``lo..hi``; how many were created."""
    return int(await conn.fetchval(ENSURE, lo, hi))


async def ensure_for_batch(conn: asyncpg.Connection, batch: DecodedBatch) -> int:
    """The partitions a batch's fills go to, before its transaction (one catalog probe)."""
    span = block_range(f.ref.block_number for f in batch.fills)
    return 0 if span is None else await ensure(conn, *span)


async def span_blocks(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(SPAN))


async def partitions(conn: asyncpg.Connection) -> list[Partition]:
    span = await span_blocks(conn)
    out = []
    for r in await conn.fetch(LIST):
        n = number_of(r["name"])
        out.append(
            Partition(
                name=r["name"],
                first_block=n * span,
                last_block=(n + 1) * span - 1,
                attached=r["attached"],
                rows_estimate=r["rows_estimate"],
                bytes=r["bytes"],
            )
        )
    return out


async def detach(conn: asyncpg.Connection, name: str, *, concurrently: bool = True) -> Partition:
    """Detach one partition (it stays as a plain table with its rows).

    Refuses the partition holding the newest checkpointed block (the listener's) and names that
    are not attached partitions. ``concurrently`` (the default) does not block readers and
    writers; it cannot run inside a transaction block, so ``conn`` must not be in one.
    """
    found = {p.name: p for p in await partitions(conn)}
    part = found.get(name)
    number_of(name)
    if part is None or not part.attached:
        raise ConfigError(f"{name} is not an attached partition of orderflow_trades")
    newest = await conn.fetchval(NEWEST_CHECKPOINT)
    if newest is not None and part.first_block <= newest <= part.last_block:
        raise ConfigError(
            f"{name} holds block {newest}, the newest checkpointed block: the listener writes "
            "there; detach only older partitions"
        )
    how = " CONCURRENTLY" if concurrently else ""
    await conn.execute(f'ALTER TABLE orderflow_trades DETACH PARTITION "{name}"{how}')
    return Partition(part.name, part.first_block, part.last_block, False, part.rows_estimate,
                     part.bytes)  # fmt: skip


async def attach(conn: asyncpg.Connection, name: str) -> Partition:
    """Re-attach a detached partition (one scan of that table to validate its block range)."""
    n = number_of(name)
    span = await span_blocks(conn)
    found = {p.name: p for p in await partitions(conn)}
    part = found.get(name)
    if part is None:
        raise ConfigError(f"no table {name} to attach")
    if part.attached:
        return part
    await conn.execute(
        f'ALTER TABLE orderflow_trades ATTACH PARTITION "{name}"'
        f" FOR VALUES FROM ({n * span}) TO ({(n + 1) * span})"
    )
    return Partition(part.name, part.first_block, part.last_block, True, part.rows_estimate,
                     part.bytes)  # fmt: skip
