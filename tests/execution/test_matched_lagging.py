"""An order the exchange shows matched past its expiry while the account's trades do not list
all of its fills yet: it is not closed FILLED short of its size, which ended its reconciliation
(a fill listed later was never booked)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy


async def test_a_matched_order_whose_trades_lag_past_its_expiry_books_them_when_listed(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The order endpoint said MATCHED, the trades listed nothing of it yet, and its expiry had
    passed: the order was closed FILLED with 0 shares and never asked about again, so its
    trade, listed a moment later, was never booked (shares held at the exchange that the books
    and the risk limits did not know)."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    clob.shows_matched = True
    trade = clob.fill(oid)  # a counterparty takes all of it ...
    clob.unlisted.add(trade)  # ... and the account's trades do not list it yet
    clob.clock_offset = 600  # both clocks: ten minutes later, past the expiry (300 s)
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["status_reason"]) == ("CANCELED", "expired"), row["status"]
    clob.unlisted.clear()  # listed now
    clock.offset = timedelta(minutes=11)
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["filled_shares"] == row["shares"], (row["status"], row["filled_shares"])
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [row["shares"]]
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"
