"""store_batch_isolating when what the database refuses is no log of the batch (real PostgreSQL).

Bisecting a batch finds the log whose values are refused; but when every part is refused
whatever logs it holds — a block header or a checkpoint handed to every part — no log is to
blame. The refusal is then raised as it is, once each log and its plainest dead letter were
tried, never recursed on (nothing of the batch is stored, no dead letter blames a log).
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.store_guard import store_batch_isolating
from tests.chain.hostile import fill
from tests.chain.match_batches import match_tx


async def test_a_refusal_of_the_batchs_block_is_raised_not_recursed(pool: asyncpg.Pool) -> None:
    batch = decode_batch(match_tx(2, 7), 137)
    unstorable = BlockHeader(2, "0xzz", "0x" + "00" * 32, datetime(2026, 12, 4, tzinfo=UTC))
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await store_batch_isolating(conn, batch, chain_id=137, blocks=[unstorable])
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == 0
        assert await conn.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0


async def test_a_refused_log_is_kept_with_its_event_like_any_log_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    """The dead letter of a decoded log the database refuses names the log as every other dead
    letter of a decoded log does (``dead_letters.log_dead_letter``): its transaction, index,
    block, emitter and event (topic0)."""
    batch = decode_batch([fill(10, i, i) for i in range(1, 4)], 137)
    refused = batch.fills[1]
    refused.maker = "0xnot-an-address"  # passes no decoder; the database's domain refuses it
    async with pool.acquire() as conn:
        stats = await store_batch_isolating(conn, batch, chain_id=137)
        row = await conn.fetchrow(
            "SELECT tx_hash, log_index, block_number, address, topic0 FROM orderflow_dead_letters"
        )
    assert (stats.trades, stats.dead_letters) == (2, 1)
    ref = refused.ref
    assert ref.raw is not None
    assert dict(row) == {
        "tx_hash": ref.tx_hash,
        "log_index": ref.log_index,
        "block_number": ref.block_number,
        "address": ref.address,
        "topic0": str(ref.raw["topics"][0]).lower(),
    }
