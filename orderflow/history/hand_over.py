"""The hand-over: after a file of events, the listener continues from the block after its last.

The file's highest stored block becomes the ``history`` stream's checkpoint, and the
``listener`` stream's too when the listener does not own its checkpoint yet: it has none (a
fresh database, the import before the first ``orderflow listen``), or the last hand-over set
it and nothing else has written it since (files imported in sequence). Each write of a
checkpoint says whether a hand-over made it (``handed_over``, migration 063: a hand-over marks
its writes with ``orderflow.hand_over``; the listener advancing it, a rollback rewinding it
clear the mark). The checkpoints alone cannot tell: a listener that read up to a file's last
block itself holds the history stream's block, and a reorg's rollback rewinds both to the same
block in one statement. A checkpoint the listener moved itself is where it has read every block
up to; moving it forward to a file's last block (the shipped sample's illustrative blocks, a
dump of later history) would make it skip every block in between, so it is left where it is:
the listener reads those blocks, and the file's again (idempotent). Checkpoints only move
forward. The decision and the writes are one transaction under the writers' lock, so a listener
storing meanwhile cannot move its checkpoint between the check and the write.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.events import DecodedBatch
from orderflow.chain.store import store_batch
from orderflow.chain.store_sql import WRITER_LOCK

HISTORY_STREAM = "history"
"""Checkpoint stream recording the last block covered by imported files."""

# The listener's checkpoint, and whether a hand-over wrote it last (migration 063).
_LISTENER = """
SELECT block_number, handed_over FROM orderflow_sync_checkpoints
 WHERE chain_id = $1 AND stream = $2
"""


@dataclass(frozen=True, slots=True)
class Kept:
    """Where the listener's checkpoint stayed instead of moving to a file's last block."""

    block: int
    owned: bool
    """The listener's own; else an earlier import's of later blocks (checkpoints only move
    forward, so an older file cannot move it back)."""


async def hand_over(
    conn: asyncpg.Connection, chain_id: int, top: tuple[int, str], *, listener: bool
) -> Kept | None:
    """Record ``top`` (block, hash) as the ``history`` checkpoint and, with ``listener``, as the
    listener's unless the listener owns its checkpoint; returns where the listener's checkpoint
    stays instead (its own, or an earlier import's above ``top``), or None (handed over, or
    ``listener`` False)."""
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        theirs = await conn.fetchrow(_LISTENER, chain_id, STREAM)
        kept = None
        if listener and theirs is not None:
            owned = not theirs["handed_over"]
            if owned or theirs["block_number"] > top[0]:
                kept = Kept(int(theirs["block_number"]), owned)
        streams = [HISTORY_STREAM] + ([STREAM] if listener and kept is None else [])
        await conn.execute("SET LOCAL orderflow.hand_over = 'on'")  # these writes are ours
        for stream in streams:
            await store_batch(
                conn, DecodedBatch(), chain_id=chain_id, checkpoint=Checkpoint(stream, *top)
            )
        await conn.execute("SET LOCAL orderflow.hand_over = 'off'")  # and only these
    return kept
