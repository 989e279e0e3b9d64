"""Control (right before this test was written): an order POST the exchange processes but
answers too late — after the executor's call timeout. The order is in doubt: it counts (the
leader's next buy of the token sends nothing), it is found by its own ids, its fill booked once,
and it is never sent again; the late answer changes nothing."""

from __future__ import annotations

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

LATE = 2.0  # seconds the stand-in holds the answer of a POST /order it has processed
TIMEOUT = 0.5  # the executor's call timeout here (10 s in production)


async def test_an_order_answered_after_the_timeout_is_in_doubt_counted_and_adopted_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    ex.desk.call_timeout = TIMEOUT
    clob.response_delays["/order"] = LATE
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # the ask: matched
    assert order is not None and order["status"] == "INTENT" and order["id"] in ex.desk.in_doubt
    [oid] = clob.orders
    assert clob.orders[oid]["status"] == "MATCHED"
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    assert clob.requests.count(("POST", "/order")) == 1
    del clob.response_delays["/order"]
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["exchange_order_id"]) == ("FILLED", oid)
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [order["shares"]]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1
    assert clob.requests.count(("POST", "/order")) == 1 and len(clob.orders) == 1
