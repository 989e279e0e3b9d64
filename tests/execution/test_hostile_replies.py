"""Exchange replies that do not parse (the SDK's models refuse them) or that are refused again and
again, from a broken or hostile exchange. One such reply must fail only what it is about: one
trade of the account's trades, one order's lookup, one token's book — never blind the executor
to the rest, and never be read as "nothing there" (an order closed short while it may be live or
filled)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy
from tests.execution.test_hostile_book import book_rules

REFUSED = "exchange reply refused"
PAST_EXPIRY = timedelta(seconds=335)  # the order's 300 s and the 30 s grace


def _refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.__dict__ for r in caplog.records if r.getMessage() == REFUSED]


async def _resting_buy(
    pool: asyncpg.Pool, dsn: str, live: LiveBroker, clock: Clock | None = None
) -> tuple[str, Decimal]:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live, clock=clock)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    return str(order["exchange_order_id"]), Decimal(order["shares"])


async def test_one_trade_that_does_not_parse_leaves_the_page_s_others_booked(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The SDK refuses the whole ``GET /data/trades`` page for one trade it cannot parse: every
    pass failed (``reconcile failed``) while that trade stayed in the look-back, and none of the
    mode's fills was booked."""
    oid, shares = await _resting_buy(pool, dsn, live)
    half = (shares / 2).quantize(Decimal("0.01"))
    bad = clob.fill(oid, half)
    good = clob.fill(oid)  # the rest; both on the stand-in's first page (two trades a page)
    clob.trade_patches[bad] = {"price": "not a number"}
    ex = live_executor(pool, dsn, live)
    await ex.maintenance()
    await ex.maintenance()
    fills = await pool.fetch("SELECT fill_key, shares FROM orderflow_fills")
    assert [(f["fill_key"], f["shares"]) for f in fills] == [(good, shares - half)]
    # The unreadable trade may be a fill of the order: it is not closed, it keeps counting.
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("OPEN", shares - half)
    refused = [(r["what"], r["trade_id"]) for r in _refusals(caplog)]
    assert refused == [("trade", bad)]  # once, not at every pass
    clob.trade_patches.clear()  # the exchange mends it: booked, the order filled
    await ex.maintenance()
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("FILLED", shares)


async def test_an_order_whose_only_fill_does_not_parse_is_not_closed_unfilled(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The order was matched in full (the order endpoint shows it no more) by the trade that
    does not parse. Past its expiry, "not shown and no fill" would close it CANCELED unfilled:
    out of the positions and the limits while the exchange may have filled it."""
    clock = Clock()
    oid, _ = await _resting_buy(pool, dsn, live, clock)
    bad = clob.fill(oid)
    clob.trade_patches[bad] = {"match_time": "yesterday"}
    clock.offset = PAST_EXPIRY
    clob.clock_offset = PAST_EXPIRY.total_seconds()
    ex = live_executor(pool, dsn, live, clock=clock)
    await ex.maintenance()
    order = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders")
    assert (order["status"], order["filled_shares"]) == ("OPEN", 0)


async def test_an_order_lookup_that_does_not_parse_is_a_failed_read(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``GET /data/order/{id}`` answered an order the SDK cannot parse: read as "no longer
    shown", so past its expiry by our clock (a minute ahead of the exchange's) it was closed
    CANCELED without the cancel the shown-but-expired path sends — out of the exposure while
    still live at the exchange."""
    clob.clock_offset = -60
    clock = Clock()
    oid, _ = await _resting_buy(pool, dsn, live, clock)
    clob.order_patch = {"size_matched": "lots"}
    clock.offset = PAST_EXPIRY
    clob.clock_offset = PAST_EXPIRY.total_seconds() - 60
    ex = live_executor(pool, dsn, live, clock=clock)
    await ex.maintenance()
    assert clob.live_orders() == [oid]
    order = await pool.fetchrow("SELECT status FROM orderflow_orders")
    assert order["status"] == "OPEN"
    assert [r["what"] for r in _refusals(caplog)] == ["order"]
    clob.order_patch = {}  # readable again: shown live past our expiry, cancelled, closed
    await ex.maintenance()
    assert clob.live_orders() == []
    order = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "expired")


async def test_a_book_that_does_not_parse_fails_its_token_only(
    clob: FakeClob, live: LiveBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """An unparseable ``GET /book`` was taken for a busy exchange: no token's rules were read
    for a minute."""
    clob.markets[TOKEN_NO].min_size = Decimal(15)
    clob.book_patch = {"tick_size": "a tenth"}
    assert await book_rules(live, TOKEN_YES) == (None, None)
    clob.book_patch = {}
    rules = await live.market_rules(TOKEN_NO)
    assert rules is not None and rules.min_order_size == 15
    assert [r["what"] for r in _refusals(caplog)] == ["market rules"]
    assert await book_rules(live, TOKEN_YES) == (None, None)  # its own pause still holds


async def test_a_refused_fill_is_logged_once_not_on_every_pass(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fill refused as impossible that the exchange keeps reporting was logged and counted
    again by every reconciliation pass (every 2 s): one problem, thousands of warnings."""
    oid, _ = await _resting_buy(pool, dsn, live)
    bad = clob.fill(oid)
    [ours] = clob.trade(bad)["maker_orders"]
    ours["price"] = "0.9"  # above the BUY's limit of 0.30
    ex = live_executor(pool, dsn, live)
    for _ in range(3):
        await ex.maintenance()
    assert [(r["what"], r["fill_key"]) for r in _refusals(caplog)] == [("fill", bad)]
