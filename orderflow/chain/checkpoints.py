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
