"""The hand-over: after a file of events, the listener continues from the block after its last.

The file's highest stored block becomes the ``history`` stream's checkpoint, and the
``listener`` stream's too when the listener does not own its checkpoint yet: it has none (a
fresh database, the import before the first ``orderflow listen``), or the last hand-over set
it and the listener has not moved it since (files imported in sequence): the two checkpoints
were written by one hand-over, in one transaction, so they hold the same block and the same
``updated_at``. The same block alone is no proof: a listener that read up to a file's last
block itself (the file's hand-over left it there) holds it too, and a third file moved it on.
A checkpoint the listener moved itself is where it has read every block up to; moving it
forward to a file's last block (the shipped sample's illustrative blocks, a dump of later
history) would make it skip every block in between, so it is left where it is: the listener
reads those blocks, and the file's again (idempotent). Checkpoints only move forward. The
decision and the writes are one transaction under the writers' lock, so a listener storing
meanwhile cannot move its checkpoint between the check and the write.
"""

from __future__ import annotations

import asyncpg

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.events import DecodedBatch
from orderflow.chain.store import store_batch
from orderflow.chain.store_sql import WRITER_LOCK

HISTORY_STREAM = "history"
"""Checkpoint stream recording the last block covered by imported files."""

# Each stream's checkpoint and when it was written (a hand-over writes both in one transaction).
_WRITTEN = """
SELECT stream, block_number, updated_at FROM orderflow_sync_checkpoints
 WHERE chain_id = $1 AND stream = ANY($2::text[])
"""


async def hand_over(
    conn: asyncpg.Connection, chain_id: int, top: tuple[int, str], *, listener: bool
) -> int | None:
    """Record ``top`` (block, hash) as the ``history`` checkpoint and, with ``listener``, as the
    listener's unless the listener owns its checkpoint; returns the block the listener's
    checkpoint was left at instead, or None (handed over, or ``listener`` False)."""
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        written = {
            r["stream"]: (r["block_number"], r["updated_at"])
            for r in await conn.fetch(_WRITTEN, chain_id, [HISTORY_STREAM, STREAM])
        }
        ours, theirs = written.get(HISTORY_STREAM), written.get(STREAM)
        owned = theirs is not None and ours != theirs
        kept = theirs[0] if listener and owned and theirs is not None else None
        streams = [HISTORY_STREAM] + ([STREAM] if listener and kept is None else [])
        for stream in streams:
            await store_batch(
                conn, DecodedBatch(), chain_id=chain_id, checkpoint=Checkpoint(stream, *top)
            )
    return kept
