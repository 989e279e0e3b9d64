"""Blocks the listener must read again, one at a time (``orderflow_reread_blocks``, migration 047).

A file's ``removed: true`` line retracts the rows of its block (``rollback.retract_block``).
Whatever those rows were — the orphaned block the file recorded, or the listener's canonical
block named by its real hash (a hostile or mistaken line) — reading that one block again with
eth_getLogs restores what the chain holds there; nothing above it changed. So the retraction
queues the block here instead of rewinding the checkpoints below it (which sent the listener
back over every block since, however old the file's block); the listener reads the queued
blocks at or below its checkpoint when a session starts and every few heads while it streams
(``live_resync.LiveResync.reread_retracted``); a block above its checkpoint is read by its
backfill anyway. A block queued again while it was being read stays queued (``queued_at``).

A listener session that ends with a log of an old block not stored (a late log deeper than
``REORG_WINDOW_BLOCKS`` below its checkpoint: an old log a node replayed) queues that block too,
instead of moving its checkpoint back below it (``live_store.LiveStore._keep_unstored``).

While no listener runs, the queue waits, and the chain's rows of those blocks are missing:
``describe`` says so (the blocks and the oldest one's age) in the summary of the import that
queued them and in a warning of every reputation run.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from orderflow.durations import format_duration

QUEUE = """
INSERT INTO orderflow_reread_blocks (chain_id, block_number, block_hash, reason)
VALUES ($1, $2, $3, $4)
ON CONFLICT (chain_id, block_number) DO UPDATE
   SET block_hash = EXCLUDED.block_hash, reason = EXCLUDED.reason,
       queued_at = clock_timestamp()
"""
_PENDING = """
SELECT block_number, queued_at FROM orderflow_reread_blocks
 WHERE chain_id = $1 ORDER BY block_number
"""
_DONE = """
DELETE FROM orderflow_reread_blocks
 WHERE chain_id = $1 AND block_number = $2 AND queued_at = $3
"""

_SUMMARY = """
SELECT count(*) AS blocks, min(block_number) AS low, max(block_number) AS high,
       clock_timestamp() - min(queued_at) AS age
  FROM orderflow_reread_blocks
"""


async def queue(
    conn: asyncpg.Connection, chain_id: int, block_number: int, block_hash: str, reason: str
) -> None:
    """Have the listener read ``block_number`` again (in the caller's transaction)."""
    await conn.execute(QUEUE, chain_id, block_number, block_hash, reason)


async def pending(conn: asyncpg.Connection, chain_id: int) -> list[tuple[int, datetime]]:
    """The queued blocks, lowest first, each with the time it was queued."""
    return [(r["block_number"], r["queued_at"]) for r in await conn.fetch(_PENDING, chain_id)]


async def done(
    conn: asyncpg.Connection, chain_id: int, block_number: int, queued: datetime
) -> None:
    """``block_number`` was read again: forget it, unless it was queued again since."""
    await conn.execute(_DONE, chain_id, block_number, queued)


async def describe(conn: asyncpg.Connection) -> str | None:
    """The queued blocks (every chain's) and the oldest one's age, or None when none is."""
    row = await conn.fetchrow(_SUMMARY)
    if row is None or not row["blocks"]:
        return None
    n, low, high = row["blocks"], row["low"], row["high"]
    blocks = f"{n} block ({low})" if n == 1 else f"{n} blocks ({low}-{high})"
    return (
        f"{blocks} {'awaits' if n == 1 else 'await'} a re-read by `orderflow listen`, queued "
        f"{format_duration(row['age'])} ago by a file's retraction (removed: true) or a "
        "listener session that ended before storing a late log of an old block: the chain's "
        "trades of those blocks are missing until it runs"
    )
