"""The maintenance pass's calls through a long outage of the exchange: each pass, every 2 s,
fails again, and says so at once, then at most once a minute with the count of failures since,
and once when the call passes again — not a line per order (or trade) and pass (1,800 an hour
each). The executor's clock is moved 2 s a pass.

* the reconciler's read of the account's trades (``GET /data/trades``);
* its lookups of the open orders (``GET /data/order/{id}``);
* its cancel of an order past its expiry by our clock (``DELETE /orders``; the exchange's clock
  stays behind, the order still live there);
* the settlement's reads of the booked trades not final yet (``GET /data/trades``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution import order_reconcile, trade_status
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

PASSES = 90  # three minutes of passes, one every 2 s


@dataclass(frozen=True)
class Outage:
    method: str
    path: str
    logger: str
    failed: str  # the words of the paced warning
    passed: str  # the words of the line when it passes again
    start: timedelta = timedelta(0)  # the clock at the first pass
    matched: bool = False  # the entry matched at once (a booked trade), else resting


OUTAGES = {
    "trades read": Outage(
        "GET", "/data/trades", order_reconcile.__name__, "reconcile failed", "reconcile passes"
    ),
    "order lookups": Outage(
        "GET",
        "/data/order/",
        order_reconcile.__name__,
        "order lookup failed",
        "order lookups pass again",
    ),
    "expired cancels": Outage(
        "DELETE",
        "/orders",
        order_reconcile.__name__,
        "expired order's cancel failed",
        "expired orders' cancels pass again",
        start=timedelta(minutes=10),  # past the order's expiry (300 s)
    ),
    "trade status": Outage(
        "GET",
        "/data/trades",
        trade_status.__name__,
        "trade status lookup failed",
        "trade status lookups pass again",
        matched=True,
    ),
}


@pytest.mark.parametrize("outage", OUTAGES.values(), ids=list(OUTAGES))
async def test_calls_failing_for_minutes_log_a_line_a_minute_and_their_return(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
    outage: Outage,
) -> None:
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    if outage.matched:
        await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # ask 0.50: matched at once
        pending = "SELECT count(*) FROM orderflow_fill_trades WHERE final_at IS NULL"
        assert await pool.fetchval(pending) == 1  # matched, not final on chain yet
    else:
        order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
        assert order is not None and order["status"] == "OPEN"  # rests
    caplog.set_level(logging.INFO, logger=outage.logger)
    down = clob.fail(outage.method, outage.path, 503)
    for n in range(PASSES):
        clock.offset = outage.start + timedelta(seconds=2 * n)
        await ex.maintenance()
    assert down.times > 0  # still failing: every call of the outage was refused
    down.times = 0  # the calls pass again
    clock.offset = outage.start + timedelta(seconds=2 * PASSES)
    await ex.maintenance()

    failed = [r for r in caplog.records if outage.failed in r.getMessage()]
    assert len(failed) <= 4, f"{len(failed)} '{outage.failed}' lines for {PASSES} passes"
    first = failed[0].__dict__
    assert first["failures"] == 1 and first["mode"] == "live" and "503" in first["error"]
    (back,) = [r for r in caplog.records if outage.passed in r.getMessage()]
    assert back.__dict__["failures"] == PASSES and back.__dict__["mode"] == "live"
    if outage.start:
        assert await pool.fetchval("SELECT status FROM orderflow_orders") == "CANCELED"
