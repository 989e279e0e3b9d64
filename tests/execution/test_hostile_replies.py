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
    assert await live.market_rules(TOKEN_YES) is None
    clob.book_patch = {}
    rules = await live.market_rules(TOKEN_NO)
    assert rules is not None and rules.min_order_size == 15
    assert [r["what"] for r in _refusals(caplog)] == ["market rules"]
    assert await live.market_rules(TOKEN_YES) is None  # its own pause still holds
