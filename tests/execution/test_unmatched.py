"""An order the CLOB reports ``UNMATCHED`` (order endpoint or placement answer) is not closed on
that word: Polymarket documents the status as "order marketable, but failure delaying, placement
successful", so it may still fill. It stays open (exposure, reconciliation) until the trades fill
it or the exchange no longer shows it open.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy


async def _resting_buy(pool: asyncpg.Pool, dsn: str, live: LiveBroker, clock: Clock) -> str:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None
    assert order["status"] == "OPEN"
    return str(order["exchange_order_id"])


async def test_an_unmatched_order_stays_open_and_its_later_fill_is_booked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """UNMATCHED was mapped to CANCELED: the order left the exposure and the kill switch while
    the exchange could still fill it, and a later fill was booked on a CANCELED order."""
    clock = Clock()
    oid = await _resting_buy(pool, dsn, live, clock)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.report(oid, "UNMATCHED")
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "OPEN", order["status"]
    clob.fill(oid)  # it matched after all
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED" and order["filled_shares"] == order["shares"]
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [order["shares"]]
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"


async def test_an_order_still_unmatched_after_its_expiry_is_closed_once_the_exchange_closes_it(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Kept open on UNMATCHED, the order does not stay open for ever: past its expiry its cancel
    is sent; the exchange refuses it (it holds the order UNMATCHED), so the order stays open —
    a V2 order's expiration is not in what it signs, so nothing but the exchange stops a match
    (``test_expired_refused.py``) — and it is closed once the exchange no longer shows it open."""
    clock = Clock()
    oid = await _resting_buy(pool, dsn, live, clock)
    ex = live_executor(pool, dsn, live, clock=clock)
    clob.report(oid, "UNMATCHED")
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
    clob.clock_offset = 600  # both clocks: ten minutes later
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    assert clob.orders[oid]["status"] == "UNMATCHED"  # the exchange still says so
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "OPEN" and order["cancel_refusals"] == 1
    clob.report(oid, "EXPIRED")  # the exchange has expired it now
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "expired")


async def test_an_order_placed_unmatched_is_reconciled_not_rejected(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The SDK turns a placement answered ``"status": "unmatched"`` into a rejection; the order
    was recorded REJECTED and never asked about again, so its later fill was never booked."""
    await live_strategy(pool)
    clob.unmatched_next = True
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # marketable
    [(oid, placed)] = clob.orders.items()
    assert placed["status"] == "UNMATCHED"
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "INTENT" and order["id"] in ex.desk.in_doubt, order["status"]
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "OPEN" and order["exchange_order_id"] == oid
    clob.fill(oid)
    await ex.maintenance()
    await ex.maintenance()
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "FILLED" and order["filled_shares"] == order["shares"]
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"
