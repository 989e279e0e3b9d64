"""A GTD order the exchange still shows open past its expiry, whose cancel it refuses.

Our clock says the order expired; the exchange still holds it (``UNMATCHED``: its cancel is
answered ``not_canceled``) and may still match it — a V2 order's expiration is not in the order
it signs (the SDK's EIP-712 ``Order``), so only the exchange's own bookkeeping expires it. The
order must stay open (exposure, reconciliation, the kill switch) until the exchange stops
showing it, and a fill of it must be booked however late it comes.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy


async def test_an_expired_order_whose_cancel_is_refused_stays_open_and_its_late_fill_is_booked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Reconciliation sent the cancel, ignored the exchange's ``not_canceled`` and closed the
    order CANCELED ``expired``: out of the exposure while the exchange could fill it, and a fill
    coming after the 15-minute look-back was never booked (a position held at the exchange that
    the books and the risk limits did not know)."""
    clock = Clock()
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    oid = str(order["exchange_order_id"])
    clob.report(oid, "UNMATCHED")  # held by the exchange; its cancels are refused
    clob.clock_offset = 600  # both clocks: ten minutes later, past the expiry (300 s)
    clock.offset = timedelta(minutes=10)
    await ex.maintenance()
    assert clob.orders[oid]["status"] == "UNMATCHED"  # the cancel was sent, and refused
    assert ("DELETE", "/orders") in clob.requests
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["status"] == "OPEN", (row["status"], row["status_reason"])
    assert row["cancel_refusals"] == 1 and "not_canceled" in row["cancel_refused_why"]
    await ex.maintenance()  # at once: its cancel's pause has not passed, none sent
    assert clob.requests.count(("DELETE", "/orders")) == 1
    clob.clock_offset = 1800  # twenty more minutes: past any look-back for late fills
    clock.offset = timedelta(minutes=30)
    clob.fill(oid)  # the exchange matched it after all
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["filled_shares"] == row["shares"], (row["status"], row["filled_shares"])
    assert row["status"] == "FILLED"
    fills = await pool.fetch("SELECT shares FROM orderflow_fills")
    assert [f["shares"] for f in fills] == [row["shares"]]
    assert await pool.fetchval("SELECT status FROM orderflow_signals") == "EXECUTED"
