"""An intent in doubt after a restart (stored, its POST answered by nothing the exchange took —
or by nothing at all) counts in the limits until its expiry, then frees its place (a control:
this passed before any change).

Its signed order may have reached the exchange (an answer lost is a placement like any other),
and the exchange answering nothing for it is also what the real CLOB answers for a fully matched
order (``test_abandoned_late_fill.py``): so it is asked about at every pass, counted meanwhile
— the next entry under ``max_open_positions = 1`` is refused — and abandoned only once its
expiry (plus the clock skew) has passed with no fill; then the next entry goes out."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy, new_market


async def _last_signal(pool: asyncpg.Pool) -> tuple[str, str]:
    row = await pool.fetchrow("SELECT status, reason FROM orderflow_signals ORDER BY id DESC")
    return row["status"], row["reason"]


async def test_an_intent_in_doubt_counts_until_its_expiry_then_frees_its_place(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    clock = Clock()
    await live_strategy(pool, max_open_positions=1)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.fail("POST", "/order", 503, times=1)  # answered unprocessed: nothing placed, in doubt
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    assert order is not None and order["status"] == "INTENT"
    clock.offset = timedelta(minutes=1)  # restarted a minute later, before its expiry (300 s)
    restarted = live_executor(pool, dsn, live, clock=clock)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    await restarted.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1)
        await add_trade(conn, token_id=token, market=market, price="0.30", at=clock())
    await restarted.catch_up()
    assert await _last_signal(pool) == ("SKIPPED", "max_open_positions")
    clob.clock_offset = 600
    clock.offset = timedelta(minutes=10)  # past its expiry
    await restarted.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "ABANDONED"
    clob.clock_offset = 0  # (the broker signs expirations with the real time)
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 2)
        await add_trade(conn, token_id=token, market=market, price="0.30", at=clock())
    await restarted.catch_up()
    await restarted.worker.drain()
    assert (await _last_signal(pool))[0] in ("PENDING", "EXECUTED")
    assert clob.requests.count(("POST", "/order")) == 2
