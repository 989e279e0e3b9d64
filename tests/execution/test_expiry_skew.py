"""A GTD order the exchange still shows open past its expiry by our clock, with our clock ahead
of the exchange's: the exchange can still fill it."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from aiohttp import web

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

AHEAD = 60  # seconds our clock runs ahead of the exchange's


async def test_an_order_live_at_the_exchange_past_our_expiry_is_cancelled_not_just_closed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Our clock is a minute ahead of the exchange's. A resting BUY's expiry plus the 30 s grace
    passed by our clock while the exchange still had it live: reconciliation closed it
    (CANCELED ``expired``) without a word to the exchange, so it left the exposure and the kill
    switch. The strategy was killed, the kill cancelled nothing, and the order could still
    fill at the exchange after the kill."""
    clob.clock_offset = -AHEAD
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    oid = await pool.fetchval("SELECT exchange_order_id FROM orderflow_orders")
    assert clob.live_orders() == [oid]
    later = 335  # past the expiry (300 s) and its grace (30 s) by our clock, not the exchange's
    clock.offset = timedelta(seconds=later)
    clob.clock_offset = later - AHEAD
    await ex.maintenance()
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        )
        await ex.registry.refresh(conn)
    ex.kills.request("live-one")
    await ex.kills.wait()
    assert clob.live_orders() == []
    order = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "expired")


async def test_an_expired_orders_cancel_answered_not_held_closes_it_at_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The lookup shows the order open past its expiry by our clock; the exchange expires it by
    its own clock just after answering (a forgetful exchange: gone from it then), so our cancel
    is answered ``order can't be found - already canceled or matched``. The exchange has said
    it holds no such order: it is done, closed CANCELED ``expired`` in this pass, its late fills
    asked for as any closed order's — not a refused cancel. Until 7 Dec 2026 (session 45) that
    answer was a refusal (noted on the order, counted, paced, logged as an error on its second):
    the order stayed OPEN to the next pass (``assert ('OPEN', 1) == ('CANCELED', 0)``).
    Nothing is sent twice: one order, one cancel."""
    clob.clock_offset = -AHEAD
    clob.forgetful = True
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    oid = await pool.fetchval("SELECT exchange_order_id FROM orderflow_orders")
    later = 335  # past the expiry (300 s) and its grace (30 s) by our clock, not the exchange's
    clock.offset = timedelta(seconds=later)
    clob.clock_offset = later - AHEAD
    answered = clob.answered_late

    async def expires_after_the_lookup(request: web.Request) -> None:
        await answered(request)
        if request.method == "GET" and request.path == f"/data/order/{oid}":
            clob.clock_offset = later  # the exchange's clock reaches the expiry
            clob.expire()

    clob.answered_late = expires_after_the_lookup  # type: ignore[method-assign]
    await ex.maintenance()
    order = await pool.fetchrow(
        "SELECT status, status_reason, cancel_refusals FROM orderflow_orders"
    )
    assert (order["status"], order["cancel_refusals"]) == ("CANCELED", 0)
    assert order["status_reason"] == "expired"
    assert len(clob.orders) == 1 and len(clob.cancel_log) == 0
