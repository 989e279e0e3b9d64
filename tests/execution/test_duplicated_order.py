"""An order POST answered ``INVALID_ORDER_DUPLICATED`` — "order … is invalid. Duplicated. Same
order has already been placed, can't be placed again" (Polymarket's table of order errors). The
executor never sends a signed order twice, so that answer means a copy of this very POST reached
the exchange first: a gateway or proxy in between that lost the exchange's answer and sent the
request again (the stand-in's ``gateway_resends_next``). The exchange holds the order. It was
recorded REJECTED with the exchange's words and never asked about: the order rested or filled at
the exchange while no position, limit or kill switch knew of it, and the leader's next buy of
the token went out beside it. Now it is an order in doubt: found by its own ids, counted
meanwhile, its fill booked once, one order at the exchange."""

from __future__ import annotations

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def test_an_order_refused_as_a_duplicate_is_the_exchange_s_and_is_adopted(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    clob.gateway_resends_next = True
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # the ask: matched
    assert order is not None and len(clob.orders) == 1
    [oid] = clob.orders
    assert clob.orders[oid]["status"] == "MATCHED" and "Duplicated" in clob.rejections[-1]
    assert order["status"] == "INTENT" and order["id"] in ex.desk.in_doubt, (
        order["status"],
        order["status_reason"],
    )
    async with pool.acquire() as conn:  # the leader buys again: the token is held
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders ORDER BY id LIMIT 1")
    assert (order["status"], order["exchange_order_id"]) == ("FILLED", oid)
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [order["shares"]]
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == order["shares"]
    assert (
        len(clob.orders) == 1 and await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1
    )
