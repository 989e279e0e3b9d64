"""A level the listener stores late still fills the paper order it would have filled.

The listener may store a maker fill minutes after its block (lag, a restart, a backfill after
downtime). A paper order that rested when the block was made would have been filled by it, and
the desk still asks for an order's late fills for a while after closing it (its look-back, 15
minutes). Before, the paper exchange stopped matching an order 2 minutes after its expiry: a
level stored 5 minutes after it, its block before the expiry, was lost for good.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    executor_settings,
    reveal,
)
from tests.execution.livekit import Clock


async def test_a_level_stored_after_the_order_expired_still_fills_it(
    pool: asyncpg.Pool, dsn: str
) -> None:
    clock = Clock()
    ex = Executor(
        pool, dsn, executor_settings(), {"paper": PaperBroker(pool, clock=clock)}, clock=clock
    )
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    expires = await pool.fetchval("SELECT expires_at FROM orderflow_paper_orders")
    clock.offset = timedelta(minutes=7)  # 2 minutes past the 5-minute life
    await ex.desk.reconcile()
    order = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "expired")

    clock.offset = timedelta(minutes=10)  # the listener, 5 minutes behind, stores the block
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="10", at=expires - timedelta(seconds=10))
    await ex.desk.reconcile()
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("CANCELED", Decimal(10))
    sig = await pool.fetchrow("SELECT status FROM orderflow_signals")
    assert sig["status"] == "EXECUTED"


async def test_a_level_stored_after_the_kill_from_before_it_still_fills(
    pool: asyncpg.Pool, dsn: str
) -> None:
    clock = Clock()
    ex = Executor(
        pool, dsn, executor_settings(), {"paper": PaperBroker(pool, clock=clock)}, clock=clock
    )
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    clock.offset = timedelta(minutes=1)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE orderflow_strategies SET killed = true")
    await ex.maintenance()  # the kill cancels the resting order
    await ex.kills.wait()
    killed_at = await pool.fetchval("SELECT canceled_at FROM orderflow_paper_orders")
    assert killed_at is not None

    async with pool.acquire() as conn:
        # Stored now, the listener a minute behind: one block before the kill, one after.
        await reveal(conn, price="0.51", shares="10", at=killed_at - timedelta(seconds=20))
        await reveal(conn, price="0.51", shares="1000", at=killed_at + timedelta(seconds=1))
    clock.offset = timedelta(minutes=2)
    await ex.desk.reconcile()
    order = await pool.fetchrow("SELECT status, status_reason, filled_shares FROM orderflow_orders")
    assert (order["status"], order["status_reason"], order["filled_shares"]) == (
        "CANCELED",
        "strategy_killed",
        Decimal(10),
    )
