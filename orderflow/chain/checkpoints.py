"""Stream checkpoints: how far each stream (``listener``, ``file:…``) has stored everything.

``store.store_batch`` advances a checkpoint (only ever forward) in the same transaction as the
rows it covers; ``get_checkpoint`` reads it back and ``rewind_checkpoint`` moves it back so the
blocks after it are read again. ``rollback.rollback_from`` rewinds every stream on a reorg.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from orderflow.chain import store_sql as sql
from orderflow.chain.store_sql import row_count


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """How far a stream (``listener``, ``file:…``) has stored everything, inclusive."""

    stream: str
    block_number: int
    block_hash: str | None = None


async def get_checkpoint(conn: asyncpg.Connection, chain_id: int, stream: str) -> Checkpoint | None:
    """The stored checkpoint of a stream, or None before its first batch."""
    row = await conn.fetchrow(sql.SELECT_CHECKPOINT, chain_id, stream)
    if row is None:
        return None
    return Checkpoint(row["stream"], row["block_number"], row["block_hash"])


async def rewind_checkpoint(
    conn: asyncpg.Connection, chain_id: int, stream: str, block_number: int
) -> bool:
    """Move a stream's checkpoint back to ``block_number`` if it is beyond it; True if moved.

    Nothing is deleted: the blocks after it are simply read again (the store is idempotent),
    e.g. after the subscription dropped a notification of a block the checkpoint had passed.
    """
    async with conn.transaction():
        await conn.execute(sql.WRITER_LOCK)
        status = await conn.execute(sql.REWIND_CHECKPOINT, chain_id, stream, block_number)
    return row_count(status) > 0


# A stream's checkpoint, when a history import's hand-over wrote it (migration 063) above $3.
_HANDED_OVER_ABOVE = """
SELECT 1 FROM orderflow_sync_checkpoints
 WHERE chain_id = $1 AND stream = $2 AND block_number > $3 AND handed_over
"""
# The highest block at or below $2 holding a stored fill or match (-1: none).
_STORED_AT_OR_BELOW = """
SELECT coalesce(greatest(
  (SELECT max(block_number) FROM orderflow_trades WHERE chain_id = $1 AND block_number <= $2),
  (SELECT max(block_number) FROM orderflow_matches WHERE chain_id = $1 AND block_number <= $2)),
  -1)
"""


async def handed_over_above(
    conn: asyncpg.Connection, chain_id: int, stream: str, head: int
) -> int | None:
    """If a history import's hand-over set ``stream``'s checkpoint above ``head`` (the node's
    head), the highest block at or below the head holding a stored fill or match (-1: none);
    otherwise None."""
    if await conn.fetchval(_HANDED_OVER_ABOVE, chain_id, stream, head) is None:
        return None
    found: int = await conn.fetchval(_STORED_AT_OR_BELOW, chain_id, head)
    return found


# Whether a history import's hand-over wrote a stream's checkpoint last (migration 063).
_HANDED_OVER = """
SELECT handed_over FROM orderflow_sync_checkpoints WHERE chain_id = $1 AND stream = $2
"""
# The logs stored at one block: (transaction hash, log index) of its fills and matches.
_STORED_LOGS_AT = """
SELECT tx_hash, log_index FROM orderflow_trades WHERE chain_id = $1 AND block_number = $2
UNION
SELECT tx_hash, log_index FROM orderflow_matches WHERE chain_id = $1 AND block_number = $2
"""


async def handed_over(conn: asyncpg.Connection, chain_id: int, stream: str) -> bool:
    """Whether a history import's hand-over wrote ``stream``'s checkpoint last."""
    return bool(await conn.fetchval(_HANDED_OVER, chain_id, stream))


async def stored_logs_at_or_below(
    conn: asyncpg.Connection, chain_id: int, block: int
) -> tuple[int, set[tuple[str, int]]]:
    """The highest block at or below ``block`` holding a stored fill or match (-1: none) and
    the (transaction hash, log index) of the fills and matches stored there."""
    found: int = await conn.fetchval(_STORED_AT_OR_BELOW, chain_id, block)
    if found < 0:
        return found, set()
    rows = await conn.fetch(_STORED_LOGS_AT, chain_id, found)
    return found, {(r["tx_hash"].lower(), r["log_index"]) for r in rows}
