"""The executor dies in the middle of a kill's cancel-all: the exchange cancelled the order (part
of it filled before), nothing of it was booked. Restarted with the strategy still killed, the
order is closed, its fill booked once, nothing is sent and the kill ends (an audit's check of a
crash point: passes on main too)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def test_killed_between_the_exchanges_cancel_and_its_booking(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    half = (Decimal(order["shares"]) / 2).quantize(Decimal("0.01"))
    clob.fill(oid, half)
    await pool.execute("UPDATE orderflow_strategies SET killed = true, generation = generation + 1")
    # The kill's DELETE reached the exchange; the process died before booking its answer.
    assert (await live.cancel([oid])).canceled == (oid,)
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"

    restarted = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    await restarted.desk.reconcile()
    await restarted.maintenance()
    await restarted.kills.wait()
    await restarted.maintenance()
    row = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (row["status"], row["filled_shares"]) == ("CANCELED", half)
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_fills") == half
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_positions") == half
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"
    assert clob.requests.count(("POST", "/order")) == 1
    assert not restarted.desk.refused_cancels.orders  # nothing left refusing: the kill is over
