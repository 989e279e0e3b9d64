"""Reconciliation's cancel of an order past its expiry (by our clock) through a long outage of
cancels (``DELETE /orders`` answering 503): asked again at each maintenance pass, every 2 s, and
said at once, then at most once a minute with the count of failed cancels since, and once when
they pass again — not a line per order and pass (1,800 an hour per expired order). The
executor's clock is moved 2 s a pass; the exchange's stays behind (the order still live)."""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution import order_reconcile
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

PASSES = 90  # three minutes of passes, one every 2 s


async def test_expired_cancels_failing_for_minutes_log_a_line_a_minute_and_their_return(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    caplog.set_level(logging.INFO, logger=order_reconcile.__name__)
    down = clob.fail("DELETE", "/orders", 503)
    for n in range(PASSES):
        clock.offset = timedelta(minutes=10, seconds=2 * n)  # past the expiry (300 s)
        await ex.maintenance()
    assert down.times > 0
    down.times = 0  # cancels pass again
    clock.offset = timedelta(minutes=10, seconds=2 * PASSES)
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"

    failed = [r for r in caplog.records if "expired order's cancel failed" in r.getMessage()]
    assert len(failed) <= 4, f"{len(failed)} 'expired order's cancel failed' lines"
    assert failed[0].__dict__["failures"] == 1 and "503" in failed[0].__dict__["error"]
    (back,) = [r for r in caplog.records if "expired orders' cancels pass again" in r.getMessage()]
    assert back.__dict__["failures"] == PASSES and back.__dict__["mode"] == "live"
