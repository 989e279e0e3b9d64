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
from tests.chain.match_batches import match_tx


async def test_a_refusal_of_the_batchs_block_is_raised_not_recursed(pool: asyncpg.Pool) -> None:
    batch = decode_batch(match_tx(2, 7), 137)
    unstorable = BlockHeader(2, "0xzz", "0x" + "00" * 32, datetime(2026, 12, 4, tzinfo=UTC))
    async with pool.acquire() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await store_batch_isolating(conn, batch, chain_id=137, blocks=[unstorable])
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == 0
        assert await conn.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
