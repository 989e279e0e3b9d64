"""The exchange's clock runs minutes behind ours: the account's trades are stamped and read
(``GET /data/trades?after=``) on its clock, the orders' creation on ours.

An entry crosses the ask and is matched in full at placement; its answer is lost (the order in
doubt). The exchange shows it nowhere (a fully matched order), so only the account's trades can
tell it filled. They were read from the order's creation less one minute by our clock: a trade
stamped five minutes earlier by the exchange's was never read, the intent was abandoned past its
expiry and asked about for its late fills in vain — shares held in the wallet that no
position, limit or exit knew (400.16 shares in this test). Now they are read from the order's
creation less an hour, and a fill stamped more than a minute before its order's creation is
logged (once per order): the lag is seen long before it could lose a fill.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy


@pytest.mark.parametrize("lag_minutes", [5, 45])
async def test_a_fill_stamped_by_a_lagging_exchange_clock_is_booked(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    lag_minutes: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    clob.clock_offset = -lag_minutes * 60
    clob.lose_next_response = True
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, price="0.50")  # crosses the ask: matched in full, the answer lost
    [placed] = clob.orders.values()
    assert placed["status"] == "MATCHED"
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "INTENT"
    for minutes in (0, 10, 20):  # passes until past the order's expiry, and after it
        clock.offset = timedelta(minutes=minutes)
        await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    held = await pool.fetchval("SELECT COALESCE(sum(shares), 0) FROM orderflow_positions")
    assert (order["status"], order["filled_shares"], held) == (
        "FILLED",
        order["shares"],
        order["shares"],
    )
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"

    told = [r for r in caplog.records if r.getMessage().startswith("the exchange's clock lags")]
    assert len(told) == 1 and told[0].__dict__["lag_secs"] >= (lag_minutes - 1) * 60
