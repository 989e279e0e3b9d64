"""Store details that bulk imports of hostile or partial input meet: a staged log whose
(chain, block, log index) another transaction already holds is dead-lettered, not silently
dropped; a block header without a parent hash keeps the one already known."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.store import store_batch
from tests.chain.factory import block_hash
from tests.chain.match_batches import match_tx


async def test_a_log_colliding_with_another_transactions_identity_is_a_dead_letter(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        first = await store_batch(conn, decode_batch(match_tx(2, 7), 137), chain_id=137)
        assert (first.trades, first.matches, first.dead_letters) == (3, 1, 0)
        # a replay drops its rows as duplicates, quietly
        again = await store_batch(conn, decode_batch(match_tx(2, 7), 137), chain_id=137)
        assert (again.trades, again.duplicate_trades, again.dead_letters) == (0, 3, 0)
        # another transaction's logs at the same block and log indexes
        other = match_tx(2, 9)
        clash = await store_batch(conn, decode_batch(other, 137), chain_id=137, bulk=True)
        assert (clash.trades, clash.matches, clash.dead_letters) == (0, 0, 4)
        letters = await conn.fetch(
            "SELECT tx_hash, log_index, block_number, reason, raw FROM orderflow_dead_letters"
            " ORDER BY log_index"
        )
    stored_tx = match_tx(2, 7)[0]["transactionHash"]
    assert [r["log_index"] for r in letters] == [0, 1, 2, 3]
    assert {r["tx_hash"] for r in letters} == {other[0]["transactionHash"]}
    assert all(r["block_number"] == 2 for r in letters)
    assert all(f"already held by tx {stored_tx}" in r["reason"] for r in letters)
    assert [r["raw"]["staged"] for r in letters] == ["OrderFilled"] * 3 + ["OrdersMatched"]
    assert await pool.fetchval("SELECT count(DISTINCT tx_hash) FROM orderflow_trades") == 1


async def test_a_header_without_parent_keeps_the_known_parent_hash(pool: asyncpg.Pool) -> None:
    ts = datetime(2026, 5, 1, tzinfo=UTC)

    async def parent_after(header: BlockHeader) -> str | None:
        async with pool.acquire() as conn:
            await store_batch(conn, decode_batch([], 137), chain_id=137, blocks=[header])
            parent: str | None = await conn.fetchval(
                "SELECT parent_hash FROM orderflow_blocks WHERE block_number = 5"
            )
        return parent

    assert await parent_after(BlockHeader(5, block_hash(5), block_hash(4), ts)) == block_hash(4)
    assert await parent_after(BlockHeader(5, block_hash(5), None, ts)) == block_hash(4)
    # another block at that height (a reorg): its own parent, even unknown
    assert await parent_after(BlockHeader(5, block_hash(5, fork=1), None, ts)) is None
    assert await parent_after(
        BlockHeader(5, block_hash(5, fork=1), block_hash(4, fork=1), ts)
    ) == block_hash(4, fork=1)
