"""Control (right before this test was written): a kill while the exchange holds the order's
matching (answered ``delayed``; Polymarket: a taker order in its delay "cannot be cancelled
before the delay ends", the cancel refused). The refused cancel is sent again at its pace; when
the delay ends the order takes what the book has as a taker, and the rest, resting, is
cancelled by the kill: one fill booked with the taker's fee, the order CANCELED
``strategy_killed`` with it, the position what was taken, one POST."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def test_a_kill_of_a_delayed_order_cancels_its_rest_once_the_delay_ends(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    clob.markets[TOKEN_YES].fee = (Decimal("0.02"), Decimal(1))
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(100)  # the book holds 100 shares
    clob.delayed_next = True
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        order = await wait_for(
            lambda: pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'OPEN'")
        )
        oid = order["exchange_order_id"]
        assert clob.orders[oid]["status"] == "DELAYED" and order["shares"] > 100
        await pool.execute("UPDATE orderflow_strategies SET killed = true")
        await wait_for(
            lambda: pool.fetchval(
                "SELECT cancel_refusals > 0 FROM orderflow_orders WHERE id = $1", order["id"]
            )
        )
        clob.release(oid)  # the delay ends: 100 taken, the rest rests
        await wait_for(lambda: now_true(clob.orders[oid]["status"] == "CANCELED"))
        row = await wait_for(
            lambda: pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE status = 'CANCELED' AND filled_shares > 0"
            )
        )
    assert (row["status_reason"], row["filled_shares"]) == ("strategy_killed", Decimal(100))
    [fill] = await pool.fetch("SELECT * FROM orderflow_fills")
    assert fill["shares"] == 100 and fill["fee"] > 0  # a taker's
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == 100
    assert clob.requests.count(("POST", "/order")) == 1
