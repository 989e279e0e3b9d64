"""A chain reorg undoes the node's dead letters at the orphaned heights, never a file's.

A history import's bad rows are dead letters naming the file, the line and the block the row
names (``source_file``, ``source_line``: migration 038). They are facts about the file, not
about the chain's blocks: a reorg orphaning those blocks changes nothing of them, and importing
the file again only counts them as seen again. The node's own dead letters at the orphaned
heights (logs the node sent from blocks that are gone) go with those blocks. Before (7 Dec
2026) ``rollback_from`` deleted every dead letter at or above the fork: the file's bad rows were
no longer anywhere (``SELECT … WHERE source_file = 'fills.csv'`` found none), until the file was
imported again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import LogPosition, raw_log
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from orderflow.history import import_file
from tests.chain.factory import h32
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs

LETTERS = (
    "SELECT source_file, source_line, block_number, reason FROM orderflow_dead_letters"
    " ORDER BY block_number, reason"
)


async def _node_dead_letter(pool: asyncpg.Pool, block: int) -> None:
    """The node's read of ``block`` (its header): a log of an exchange with an unknown topic,
    a dead letter of the node's (no file)."""
    header = BlockHeader(
        block, h32(f"e{block:x}"), None, datetime.fromtimestamp(1_779_000_000, UTC)
    )
    unknown = raw_log(
        c.V1_CTF_EXCHANGE, [h32("dead")], [], LogPosition(block, header.hash, h32("ee"), 0, None)
    )
    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([unknown], 137), chain_id=137, blocks=[header], authoritative=True
        )


async def test_a_reorg_keeps_a_file_imports_dead_letters(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=21)
    fills = [d.dune_row(f) for f in d.fills_of(logs)]
    fills[2]["makerAmountFilled"] = "12.5"  # line 4: not a whole number
    fills[8]["takerAssetId"] = fills[8]["makerAssetId"] = "7"  # line 10: the decoder refuses
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    await import_file(
        pool, d.write_csv(tmp_path / "fills.csv", fills), chain_id=137, hand_over=False
    )
    from_file = [tuple(r) for r in await pool.fetch(LETTERS)]
    assert [(r[0], r[1]) for r in from_file] == [("fills.csv", 4), ("fills.csv", 10)], "setup"
    fork = min(r[2] for r in from_file)
    top = max(int(raw["blockNumber"], 16) for raw in logs)
    await _node_dead_letter(pool, fork - 1)  # below the fork: stays
    await _node_dead_letter(pool, top + 1)  # at an orphaned height: goes

    async with pool.acquire() as conn:
        stats = await rollback_from(conn, 137, fork)  # a reorg orphaning every block from it

    left = [tuple(r) for r in await pool.fetch(LETTERS)]
    assert [r for r in left if r[0] is not None] == from_file, (
        f"the reorg from block {fork} deleted the file's own dead letters: "
        f"{[f'{r[0]} line {r[1]} (block {r[2]})' for r in from_file]} before, "
        f"{[f'{r[0]} line {r[1]}' for r in left if r[0] is not None]} after"
    )
    assert [r[2] for r in left if r[0] is None] == [fork - 1]  # the node's, below the fork
    assert stats.dead_letters == 1  # the node's at the orphaned height
