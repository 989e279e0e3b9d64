"""A kill that reaches the exchange before the order it is meant to stop: the order's POST is on
its way (the intent stored, the exchange not yet holding it) when the strategy is killed; the
kill's cancel finds nothing to cancel, and the exchange then places the order, resting. The
guide's promise — a killed strategy places no order — holds only if that order is cancelled
once it is there, and nothing more is sent.

Control (right on the main of 7 Dec 2026, session 44): the kill's switch keeps cancelling the
strategy's orders still open (the intent, then the order the answer made OPEN) until the
exchange has cancelled it; one POST, the order CANCELED ``strategy_killed`` at both ends."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp import web

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy


async def test_an_order_placed_after_the_kill_s_cancel_is_cancelled_once_it_rests(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    held = asyncio.Event()  # the exchange holds the POST /order until the kill's cancel came
    slowed = clob.slowed

    async def holding(request: web.Request) -> None:
        if request.method == "POST" and request.path == "/order":
            await held.wait()
        await slowed(request)

    monkeypatch.setattr(clob, "slowed", holding)
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        await buys_in_new_markets(pool, clob, 1)  # no ask: the order would rest
        await wait_for(lambda: now_true(("POST", "/order") in clob.requests))
        await pool.execute(
            "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        )
        await wait_for(lambda: now_true(("DELETE", "/orders") in clob.requests))
        assert clob.orders == {}  # the cancel came first: nothing to cancel yet
        held.set()  # the exchange places the order now: it rests

        async def cancelled() -> asyncpg.Record | None:
            row = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
            done = [o["status"] for o in clob.orders.values()] == ["CANCELED"]
            return row if done and row is not None and row["status"] == "CANCELED" else None

        row = await wait_for(cancelled)
        await ex.worker.drain()
    assert row["status_reason"] == "strategy_killed"
    assert clob.requests.count(("POST", "/order")) == 1
    assert clob.live_orders() == []
