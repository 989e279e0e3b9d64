"""The staged fills and matches the store refuses, as dead letters (``store.store_batch``).

Three kinds, each found by one statement of store_sql.py or store_replace.py: a row of another
fork than the block recorded at its height (``orphans``: ``ORPHANED_FILLS`` /
``ORPHANED_MATCHES``, taken out of staging before the insert), an import's row whose transaction
hash and log index a stored row (the node's log, or an earlier import's row) or an earlier row of
its batch holds at another block (``superseded``: ``SUPERSEDED_FILLS`` / ``SUPERSEDED_MATCHES``,
``store_replace.DOUBLED_FILLS`` / ``DOUBLED_MATCHES``, taken out of staging too) and a row
whose identity (chain, block, log index) another log already holds with other content
(``collisions``: ``COLLIDING_FILLS`` / ``COLLIDING_MATCHES``, dropped by the insert; a replay of
the same log is not one).
"""

from __future__ import annotations

import asyncpg

from orderflow.chain.dead_letters import row_dead_letter
from orderflow.chain.events import DeadLetter


async def orphans(
    conn: asyncpg.Connection, chain_id: int, query: str, span: tuple[int, int] | None, kind: str
) -> list[DeadLetter]:
    """Dead letters for staged rows of another fork than the block recorded at their height
    (``orderflow_blocks``), which ``query`` takes out of staging; ``span``: the batch's lowest
    and highest block (None: no rows)."""
    if span is None:
        return []
    return [
        _refused(
            chain_id,
            kind,
            r,
            f"(tx {r['tx_hash']}) not stored: its block hash {r['block_hash']} is not the "
            f"hash {r['recorded_block_hash']} recorded for block {r['block_number']} (a log "
            "of another fork)",
        )
        for r in await conn.fetch(query, chain_id, *span)
    ]


async def superseded(
    conn: asyncpg.Connection,
    chain_id: int,
    query: str,
    span: asyncpg.Record | tuple[int, int] | None,
    kind: str,
) -> list[DeadLetter]:
    """Dead letters for an import's staged rows whose transaction hash and log index a stored
    row (the node's log, or an earlier import's row) holds at another block (``span``: the
    blocks where rows were stored), or, ``span`` None, an earlier staged row of the batch does,
    which ``query`` takes out of staging."""
    held = (
        "an earlier row of the file holds that transaction and log index at block {} (one of "
        "the two names a wrong block)"
        if span is None
        else "that transaction and log index is stored at block {} (the row names a wrong "
        "block), or the stored row does if an import stored it"
    )
    return [
        _refused(
            chain_id,
            kind,
            r,
            f"(tx {r['tx_hash']}) not stored: {held.format(r['stored_block'])}; the node's log "
            "replaces a stored row at a wrong block when the listener reads it",
        )
        for r in await conn.fetch(query, *((chain_id, *span) if span is not None else ()))
    ]


async def collisions(
    conn: asyncpg.Connection, chain_id: int, query: str, kind: str
) -> list[DeadLetter]:
    """Dead letters for staged rows the insert dropped because another log holds their
    identity with other content."""
    dead = []
    for r in await conn.fetch(query, chain_id):
        held = (
            f"tx {r['stored_tx']}"
            if r["stored_tx"] != r["tx_hash"]
            else f"a log with other content (block hash {r['stored_block_hash']})"
            if r["stored_block_hash"] != r["block_hash"]
            else "a log with other content (order, wallets, side, token or amounts)"
        )
        dead.append(
            _refused(
                chain_id,
                kind,
                r,
                f"(tx {r['tx_hash']}, block hash {r['block_hash']}) not stored: that (chain, "
                f"block, log index) is already held by {held} — two logs cannot share it",
            )
        )
    return dead


def _refused(chain_id: int, kind: str, r: asyncpg.Record, why: str) -> DeadLetter:
    """A staged fill or match the store refuses: ``why`` follows its "<kind> at block …, log
    index …"."""
    return row_dead_letter(
        chain_id,
        r,
        {"staged": kind, **dict(r)},
        f"{kind} at block {r['block_number']}, log index {r['log_index']} {why}",
    )
