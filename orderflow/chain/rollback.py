"""Undo what was stored from blocks the chain no longer has: a reorg's rollback, a retraction.

``rollback_from`` (a reorg orphaned every block from a height up) deletes, in one transaction
under the writer lock, the trades (decrementing the wallet counters their insert trigger
maintained; the delete trigger subtracts them from the per-(wallet, token) sums), matches,
refunds, outcomes (a market Gamma resolved goes back to Gamma's resolution), conditions and
their tokens (those Gamma lists go back to Gamma), the node's dead letters and block headers at
or above the height, and rewinds every stream's checkpoint below it. The canonical logs are then
fetched and stored again (``store.store_batch``). A file's dead letters (``source_file``: a
history import's bad rows, a ``listen --from-file`` line) are facts about the file, not about
the chain's blocks: they stay.

``retract_removed`` (a file's ``removed: true`` logs: the node retracted their blocks) undoes
the same rows, the same way, of one block at a time, named by its number *and* hash: a block
held under another hash at that height is not what the node retracted, and stays (with a
warning). Dead letters stay (they carry no block hash). When it undid something, the block is
queued for the listener to read again (:mod:`orderflow.chain.rereads`): that block only, however
far below the checkpoints it lies; no checkpoint moves.

``undo_forked`` (the node's header of a height, recorded by its batch: ``store_forks``) undoes
the same rows held at that height under any other hash, the rows of another fork.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields

import asyncpg

from orderflow.chain import rereads
from orderflow.chain import rollback_sql as sql
from orderflow.chain.events import LogRef
from orderflow.chain.pending_sums import FOLD_LOCK_SHARED
from orderflow.chain.store_sql import WRITER_LOCK, row_count

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RollbackStats:
    """Rows removed by ``rollback_from`` (``outcomes``: also those handed back to Gamma's)."""

    trades: int = 0
    matches: int = 0
    conditions: int = 0
    tokens: int = 0
    outcomes: int = 0
    dead_letters: int = 0
    blocks: int = 0
    checkpoints: int = 0

    def undid(self) -> bool:
        """Whether any row derived from the chain went (trades, matches, conditions,
        outcomes, headers)."""
        return bool(self.trades or self.matches or self.conditions or self.outcomes or self.blocks)


async def _undo(conn: asyncpg.Connection, undo: sql.Undo, *args: object) -> RollbackStats:
    """The rows of ``undo``'s scope, but dead letters, headers and checkpoints (the caller's)."""
    stats = RollbackStats()
    await conn.execute(FOLD_LOCK_SHARED)  # its delete asks which rows are pending (migration 080)
    per_wallet = await conn.fetch(undo.trades, *args)
    stats.trades = sum(r["deleted"] for r in per_wallet)
    if per_wallet:
        await conn.execute(
            sql.UNDO_WALLET_STATS,
            [r["wallet_address"] for r in per_wallet],
            [r["n"] for r in per_wallet],
            [r["volume"] for r in per_wallet],
        )
    stats.matches = row_count(await conn.execute(undo.matches, *args))
    await conn.execute(undo.refunds, *args)
    stats.outcomes = row_count(await conn.execute(undo.return_outcomes, *args))
    stats.outcomes += row_count(await conn.execute(undo.delete_outcomes, *args))
    gone = await conn.fetch(undo.conditions, *args)
    stats.conditions = len(gone)
    if gone:
        conditions = [r[0] for r in gone]
        await conn.execute(sql.RETURN_CONDITION_TOKENS, conditions)
        stats.tokens = row_count(await conn.execute(sql.DELETE_CONDITION_TOKENS, conditions))
    return stats


async def rollback_from(
    conn: asyncpg.Connection, chain_id: int, block_number: int
) -> RollbackStats:
    """Delete everything derived from blocks >= ``block_number``; rewind checkpoints before it.

    Used when a reorg orphaned those blocks: the canonical logs are then fetched and stored
    again. Wallet counters maintained by the insert trigger are decremented to match. Dead
    letters: the node's only (a file's stay: ``rollback_sql.DELETE_DEAD_LETTERS``).
    """
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        stats = await _undo(conn, sql.ROLLBACK, chain_id, block_number)
        stats.dead_letters = row_count(
            await conn.execute(sql.DELETE_DEAD_LETTERS, chain_id, block_number)
        )
        # Rewind first: it reads the hash of the block just below, which is kept.
        stats.checkpoints = row_count(
            await conn.execute(sql.REWIND_CHECKPOINTS, chain_id, block_number)
        )
        stats.blocks = row_count(await conn.execute(sql.ROLLBACK.blocks, chain_id, block_number))
    return stats


async def retract_block(
    conn: asyncpg.Connection, chain_id: int, block_number: int, block_hash: str
) -> RollbackStats:
    """Delete everything derived from the block ``block_number`` of hash ``block_hash`` (a
    node retracted it); when something went, queue the block for the listener to read again
    (``rereads``: that block only; no checkpoint moves).

    Runs in the caller's transaction when there is one (``store.store_batch``'s), else in its
    own; under the writer lock either way."""
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        stats = await _undo(conn, sql.RETRACT, chain_id, block_number, block_hash)
        stats.blocks = row_count(
            await conn.execute(sql.RETRACT.blocks, chain_id, block_number, block_hash)
        )
        if stats.undid():  # the chain's rows of this block are read again, nothing else
            await rereads.queue(conn, chain_id, block_number, block_hash, "removed: true")
    return stats


async def undo_forked(
    conn: asyncpg.Connection, chain_id: int, block_number: int, block_hash: str
) -> RollbackStats:
    """Delete everything held at height ``block_number`` under another hash than ``block_hash``
    (the node's header of that height, just recorded: ``store_forks``), as a retraction of that
    other block would; its header (none: the height's is the node's), dead letters and the
    checkpoints stay, and nothing is queued to be read again (the node's batch holds the block).

    Runs in the caller's transaction (``store.store_batch``'s, under the writer lock)."""
    return await _undo(conn, sql.FORKED, chain_id, block_number, block_hash)


async def retract_removed(
    conn: asyncpg.Connection, chain_id: int, removed: Iterable[LogRef]
) -> RollbackStats:
    """:func:`retract_block` for the block of every retracted log (each block once).

    A block held under another hash at that height is not the one the node retracted: it stays,
    with a warning. A block we hold nothing of is nothing to undo (no warning)."""
    total = RollbackStats()
    for number, block_hash in dict.fromkeys((r.block_number, r.block_hash) for r in removed):
        stats = await retract_block(conn, chain_id, number, block_hash)
        if stats.undid():
            log.info(
                "removed log: its block's rows retracted",
                extra={"block": number, "block_hash": block_hash, "trades": stats.trades},
            )
        else:
            held = await conn.fetchval(sql.HELD_UNDER_ANOTHER_HASH, chain_id, number, block_hash)
            if held is not None:
                log.warning(
                    "removed log of a block we hold under another hash: ignored (the node did "
                    "not retract what we hold)",
                    extra={"block": number, "block_hash": block_hash, "held_hash": held},
                )
        for f in fields(total):
            setattr(total, f.name, getattr(total, f.name) + getattr(stats, f.name))
    return total
