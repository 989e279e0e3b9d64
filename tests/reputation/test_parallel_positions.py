"""A full run at the present reads the stored per-(wallet, token) sums with parallel workers
(``positions_sql.parallel_scan``): the plan has them, and every row and score is the one a
serial read gives.

The test tables are far below ``min_parallel_table_scan_size`` (8 MB), where PostgreSQL gives
no worker whatever the costs, so each test lowers it to 0 to make the workers run.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow import db
from orderflow.reputation import run_reputation
from orderflow.reputation.positions_sql import parallel_scan, positions, serial
from orderflow.reputation.settings import ReputationSettings
from tests.reputation.population import World, noise_taker, skilled_taker, wash_pair
from tests.reputation.test_incremental_run import persisted

_ANY_SIZE = "SET LOCAL min_parallel_table_scan_size = 0"
_SCAN = "Parallel Seq Scan on orderflow_position_sums"


async def _world(pool: asyncpg.Pool, seed: int) -> None:
    w = World(seed=seed, markets=16, neg_risk_events=2, favourites=3, makers=2)
    for _ in range(12):
        skilled_taker(w, w.new_wallet(), 6, w.rng.random(), usd=120.0)
    noise_taker(w, w.new_wallet(), 5)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 4)
    # half the markets resolved: open positions too (marks, unrealized P&L)
    for s in w.specs[: len(w.specs) // 2]:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    await run_reputation(pool)  # folds what the ingest deferred: the sums hold every fill


async def _plan(conn: asyncpg.Connection, *settings: str) -> str:
    """The stored positions statement's plan after ``settings``, in a rolled-back transaction."""
    async with conn.transaction():
        await conn.execute(_ANY_SIZE)
        for s in settings:
            await conn.execute(s)
        now = await conn.fetchval("SELECT now()")
        rows = await conn.fetch("EXPLAIN " + positions(stored=True), now)
        await conn.execute("ROLLBACK AND CHAIN")  # nothing it planned is kept
    return "\n".join(r[0] for r in rows)


async def test_workers_read_the_stored_sums(pool: asyncpg.Pool) -> None:
    await _world(pool, 41)
    async with pool.acquire() as conn:
        assert _SCAN in await _plan(conn, parallel_scan(2))
        assert "Parallel" not in await _plan(conn, parallel_scan(0))
        # the run's own settings again after the statement: no worker with parallel_workers=0
        assert "Parallel" not in await _plan(conn, parallel_scan(2), serial(0))


async def _positions(conn: asyncpg.Connection, setting: str) -> tuple[list[Any], str]:
    """``rep_positions`` built after ``setting``, sorted, and the build's EXPLAIN ANALYZE."""
    async with conn.transaction():
        await conn.execute(_ANY_SIZE)
        await conn.execute(setting)
        now = await conn.fetchval("SELECT now()")
        plan = await conn.fetch("EXPLAIN (ANALYZE) " + positions(stored=True), now)
        rows = await conn.fetch("SELECT * FROM rep_positions ORDER BY wallet_address, token_id")
        await conn.execute("ROLLBACK AND CHAIN")
    return [tuple(r) for r in rows], "\n".join(r[0] for r in plan)


async def test_the_same_rows_with_and_without_workers(pool: asyncpg.Pool) -> None:
    await _world(pool, 42)
    async with pool.acquire() as conn:
        parallel, plan = await _positions(conn, parallel_scan(2))
        alone, plan_alone = await _positions(conn, parallel_scan(0))
    assert "Workers Launched: 2" in plan and "Workers" not in plan_alone
    assert len(alone) > 100
    assert parallel == alone


async def test_a_full_run_scores_the_same_with_workers(pool: asyncpg.Pool, dsn: str) -> None:
    await _world(pool, 43)
    await run_reputation(pool, settings=ReputationSettings(stored_parallel_workers=0), full=True)
    alone = await persisted(pool)
    name = await pool.fetchval("SELECT current_database()")
    await pool.execute(f'ALTER DATABASE "{name}" SET min_parallel_table_scan_size = 0')
    workers = await db.create_pool(dsn, min_size=1, max_size=2)  # new sessions take it
    try:
        summary = await run_reputation(workers, full=True)
        assert summary.source == "sums" and not summary.incremental
        assert summary.history_rows == 0  # no score, tier or flag moved
        assert await persisted(workers) == alone
    finally:
        await workers.close()
