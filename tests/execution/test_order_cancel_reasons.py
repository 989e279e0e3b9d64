"""Orders the exchange closed on its own, shown with the status naming why: the official SDK's
order statuses (polymarket-client 0.14.0, ``KnownUserOrderStatus``) include
``CANCELED_EXPIRED_ORDER``, ``CANCELED_NOT_ENOUGH_BALANCE``, ``CANCELED_MARKET_NOT_FOUND`` and
``CANCELED_ORDER_TIMED_OUT`` besides ``CANCELED`` and ``CANCELED_MARKET_RESOLVED`` (the stand-in's
``cancel_reasons``: ``clob_variations.ClobVariations.shown_status``).

Each is a cancelled order: closed CANCELED with its fills so far, no longer counted. Before
(until 7 Dec 2026) the executor knew only ``CANCELED``, ``CANCELED_MARKET_RESOLVED``, ``INVALID``
and ``EXPIRED``: another status was unknown, kept OPEN (its taker fee reserved) — a BUY the
validity monitor cancelled counted until its expiry, and an order expired at the exchange was
never closed at all: past its expiry its cancel was refused (``order can't be canceled``), which
leaves an order the exchange still shows OPEN, refused again every minute for ever. The BUY the
validity monitor cancelled is tests/execution/test_live_exchange_cancels.py's withdrawal test,
``canceled-with-reason``."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.settlement import EXPIRY_GRACE
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy

TTL = 300  # the strategy's order_ttl_secs (the default)


async def test_an_order_expired_at_the_exchange_is_closed_not_cancelled_for_ever(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    clob.cancel_reasons = True
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    clob.fill(order["exchange_order_id"], Decimal(10))
    past = timedelta(seconds=TTL) + EXPIRY_GRACE + timedelta(minutes=1)
    clob.clock_offset = past.total_seconds()  # both clocks past its expiry
    clock.offset = past
    await ex.maintenance()
    await ex.maintenance()
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (row["status"], row["status_reason"], row["filled_shares"]) == (
        "CANCELED",
        "expired",
        10,
    )
    assert row["cancel_refusals"] == 0
    assert ("DELETE", "/orders") not in clob.requests  # nothing to cancel: it was expired
    assert clob.requests.count(("POST", "/order")) == 1
