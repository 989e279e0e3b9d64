"""store_batch / rollback_from against a real PostgreSQL: checkpoints forward-only (and rewound
only back), a failed batch stores nothing, rollback and re-ingest of the canonical fork,
concurrent writers queue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint, rewind_checkpoint
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    encode_condition_resolution,
)
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from tests.chain.factory import T0, addr, at, block_hash, h32
from tests.chain.match_batches import ALICE, match_tx, prepare
from tests.chain.test_contracts_tokens import BTC_UP_DOWN


async def test_checkpoint_only_moves_forward(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await get_checkpoint(conn, 137, "listener") is None
        empty = decode_batch([], 137)
        s = await store_batch(
            conn, empty, chain_id=137, checkpoint=Checkpoint("listener", 10, h32(10))
        )
        assert s.checkpoint_advanced
        s = await store_batch(
            conn, empty, chain_id=137, checkpoint=Checkpoint("listener", 5, h32(5))
        )
        assert not s.checkpoint_advanced
        assert await get_checkpoint(conn, 137, "listener") == Checkpoint("listener", 10, h32(10))
        assert await get_checkpoint(conn, 80002, "listener") is None


async def test_failed_batch_leaves_no_rows_and_no_checkpoint(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE orderflow_matches ADD CONSTRAINT no CHECK (size < 1)")
        try:
            await store_batch(
                conn,
                decode_batch(match_tx(2, 7), 137),
                chain_id=137,
                checkpoint=Checkpoint("listener", 2),
            )
        except asyncpg.CheckViolationError:
            pass
        else:
            raise AssertionError("the check should have failed the batch")
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == 0
        assert await get_checkpoint(conn, 137, "listener") is None


async def test_rollback_removes_orphaned_blocks_and_rewinds(pool: asyncpg.Pool) -> None:
    logs = [prepare(1), *match_tx(2, 7), *match_tx(3, 8)]
    res = encode_condition_resolution(
        at=at(3, 9, 8),
        condition_id=BTC_UP_DOWN,
        oracle=addr(0x0AC1E),
        question_id=h32(9),
        payout_numerators=[1, 0],
    )
    bad = {**match_tx(3, 9)[0], "data": "0x00"}
    headers = [
        BlockHeader(n, block_hash(n), block_hash(n - 1), datetime.fromtimestamp(T0 + 2 * n, UTC))
        for n in (1, 2, 3)
    ]
    async with pool.acquire() as conn:
        await store_batch(
            conn,
            decode_batch([*logs, res, bad], 137),
            chain_id=137,
            blocks=headers,
            checkpoint=Checkpoint("listener", 3, block_hash(3)),
        )
        await store_batch(
            conn,
            decode_batch([], 137),
            chain_id=137,
            checkpoint=Checkpoint("file:x", 2, block_hash(2)),
        )
        stats = await rollback_from(conn, 137, 3)
        assert (stats.trades, stats.matches, stats.outcomes, stats.blocks) == (3, 1, 1, 1)
        assert (stats.dead_letters, stats.checkpoints, stats.conditions) == (1, 1, 0)
        assert await get_checkpoint(conn, 137, "listener") == Checkpoint(
            "listener", 2, block_hash(2)
        )
        assert await get_checkpoint(conn, 137, "file:x") == Checkpoint("file:x", 2, block_hash(2))
        alice = await conn.fetchrow(
            "SELECT total_trades, total_volume_usdc, last_trade_at FROM orderflow_wallet_stats"
            " WHERE wallet_address = $1",
            ALICE,
        )
        assert (alice[0], alice[1]) == (1, Decimal("2.4"))
        assert alice[2] == datetime.fromtimestamp(T0 + 4, UTC)
        # the canonical block 3 (another fork) is then stored normally
        canon = [{**log, "blockHash": block_hash(3, fork=1)} for log in match_tx(3, 8)]
        again = await store_batch(conn, decode_batch(canon, 137), chain_id=137)
        assert again.trades == 3
        # rolling back to the condition's block removes it and its computed tokens
        stats = await rollback_from(conn, 137, 1)
        assert (stats.conditions, stats.tokens, stats.trades) == (1, 2, 6)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM orderflow_wallet_stats WHERE total_trades <> 0"
            )
            == 0
        )


async def _wait_until_blocked(pool: asyncpg.Pool, pid: int) -> None:
    """Poll until backend ``pid`` waits on a lock (advisory or row): no fixed sleeps."""
    import asyncio

    for _ in range(600):
        waiting = await pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second writer never blocked")


async def test_concurrent_writers_queue_instead_of_deadlocking(pool: asyncpg.Pool) -> None:
    """Writer A holds rows of a batch; writer B stores an overlapping batch in reverse order;
    A then stores more rows that B would have locked. Without the writer lock this is a
    deadlock (PostgreSQL aborts one); with it B waits for A, and every log is stored once."""
    import asyncio

    logs = [log for tx in range(20) for log in match_tx(2 + tx, 100 + tx)]
    async with pool.acquire() as a, pool.acquire() as b:
        b_pid = await b.fetchval("SELECT pg_backend_pid()")
        async with a.transaction():
            await store_batch(a, decode_batch(logs[:30], 137), chain_id=137)
            task = asyncio.create_task(
                store_batch(b, decode_batch(list(reversed(logs[20:])), 137), chain_id=137)
            )
            await _wait_until_blocked(pool, b_pid)
            await store_batch(a, decode_batch(logs[30:40], 137), chain_id=137)
        stats = await task
        # B's 60 logs hold 45 fills: 15 that A stored first, 30 only B has
        assert (stats.trades, stats.duplicate_trades) == (30, 15)
        assert await a.fetchval("SELECT count(*) FROM orderflow_trades") == 60
        assert await a.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats") == 60
        assert (
            await a.fetchval("SELECT count(*) FROM orderflow_trades WHERE match_log_index IS NULL")
            == 0
        )


async def test_rewind_checkpoint_only_moves_back(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([], 137), chain_id=137, checkpoint=Checkpoint("listener", 20)
        )
        assert await rewind_checkpoint(conn, 137, "listener", 25) is False
        assert await rewind_checkpoint(conn, 137, "listener", 12) is True
        cp = await get_checkpoint(conn, 137, "listener")
        assert cp is not None and cp.block_number == 12
