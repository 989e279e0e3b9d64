"""Undo everything stored from a block height up (a reorg orphaned those blocks).

``rollback_from`` deletes, in one transaction under the writer lock, the trades (decrementing
the wallet counters their insert trigger maintained), matches, refunds, outcomes (a market
Gamma resolved goes back to Gamma's resolution), conditions and their tokens (those Gamma lists
go back to Gamma), dead letters and block headers at or
above the height, and rewinds every stream's checkpoint below it. The canonical logs are then
fetched and stored again (``store.store_batch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from orderflow.chain import rollback_sql as sql
from orderflow.chain.store_refunds import DELETE_FROM_BLOCK as DELETE_REFUNDS_FROM_BLOCK
from orderflow.chain.store_sql import WRITER_LOCK, row_count


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


async def rollback_from(
    conn: asyncpg.Connection, chain_id: int, block_number: int
) -> RollbackStats:
    """Delete everything derived from blocks >= ``block_number``; rewind checkpoints before it.

    Used when a reorg orphaned those blocks: the canonical logs are then fetched and stored
    again. Wallet counters maintained by the insert trigger are decremented to match.
    """
    stats = RollbackStats()
    async with conn.transaction():
        await conn.execute(WRITER_LOCK)
        per_wallet = await conn.fetch(sql.DELETE_TRADES, chain_id, block_number)
        stats.trades = sum(r["deleted"] for r in per_wallet)
        if per_wallet:
            await conn.execute(
                sql.UNDO_WALLET_STATS,
                [r["wallet_address"] for r in per_wallet],
                [r["n"] for r in per_wallet],
                [r["volume"] for r in per_wallet],
            )
        stats.matches = row_count(await conn.execute(sql.DELETE_MATCHES, chain_id, block_number))
        await conn.execute(DELETE_REFUNDS_FROM_BLOCK, chain_id, block_number)
        stats.outcomes = row_count(await conn.execute(sql.RETURN_OUTCOMES, chain_id, block_number))
        stats.outcomes += row_count(await conn.execute(sql.DELETE_OUTCOMES, chain_id, block_number))
        gone = await conn.fetch(sql.DELETE_CONDITIONS, chain_id, block_number)
        stats.conditions = len(gone)
        if gone:
            conditions = [r[0] for r in gone]
            await conn.execute(sql.RETURN_CONDITION_TOKENS, conditions)
            stats.tokens = row_count(await conn.execute(sql.DELETE_CONDITION_TOKENS, conditions))
        stats.dead_letters = row_count(
            await conn.execute(sql.DELETE_DEAD_LETTERS, chain_id, block_number)
        )
        # Rewind first: it reads the hash of the block just below, which is kept.
        stats.checkpoints = row_count(
            await conn.execute(sql.REWIND_CHECKPOINTS, chain_id, block_number)
        )
        stats.blocks = row_count(await conn.execute(sql.DELETE_BLOCKS, chain_id, block_number))
    return stats
