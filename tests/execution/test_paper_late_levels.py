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

from tests.execution.conftest import (
    reveal,
)
from tests.execution.paperkit import clocked_executor, whale_buys


async def test_a_level_stored_after_the_order_expired_still_fills_it(
    pool: asyncpg.Pool, dsn: str
) -> None:
    ex, clock = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
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
    ex, clock = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
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
