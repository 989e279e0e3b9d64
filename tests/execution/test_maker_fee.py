"""A maker fill pays no fee, live as on paper: one rule (``sizing.fill_fee``).

On the CLOB V2 only takers pay: docs.polymarket.com/trading/fees, "Makers are never charged
fees. Only takers pay fees" (maker fee rate 0 in every category); the fee is set by the
protocol at match time, not carried in the signed order. Paper's resting order filled as maker
paid nothing (``depth.Take.report``); the live desk booked a maker fill from the account's trades
at its maker entry's ``fee_rate_bps`` (exponent 1), so where the exchange states a rate there —
a field the SDK gives no meaning — the live book charged a fee the chain never took, and live and
paper disagreed on the same fill."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.depth import Level, Take
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_replies import our_fills
from orderflow.signals.sizing import fill_fee
from orderflow.signals.views import FeeSchedule
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

SPORTS = (Decimal("0.03"), Decimal(1))  # r, e: the real V2 fill of tests/chain/test_decode.py


@pytest.mark.parametrize("stated_bps", ["300", "0", "-100", "100000000"])
async def test_a_live_maker_fill_is_booked_without_fee(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, stated_bps: str
) -> None:
    """A BUY resting at 0.31 in a market charging takers 0.03 is filled as maker; its entry in
    the trade states ``fee_rate_bps`` (the market's rate, nothing, or nonsense): no fee, the
    position's cost is what it paid for its shares. The field is not read, so no value of it
    refuses the fill."""
    clob.markets[TOKEN_NO].fee = SPORTS
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
    assert order is not None and order["status"] == "OPEN"
    trade = clob.fill(str(order["exchange_order_id"]))
    [ours] = clob.trade(trade)["maker_orders"]
    ours["fee_rate_bps"] = stated_bps
    await ex.maintenance()
    fill = await pool.fetchrow("SELECT shares, usdc, fee FROM orderflow_fills")
    assert fill is not None and fill["shares"] == order["shares"]
    assert fill["fee"] == 0, dict(fill)
    position = await pool.fetchrow("SELECT shares, cost_basis FROM orderflow_positions")
    assert position["cost_basis"] == fill["usdc"]


class _Maker:
    order_id = "ours"
    matched_amount = Decimal(40)
    price = Decimal("0.30")
    fee_rate_bps = Decimal(300)


class _Trade:
    id = "t-1"
    trader_side = "MAKER"
    taker_order_id = "theirs"
    maker_orders = (_Maker(),)
    price = Decimal("0.30")
    size = Decimal(40)
    fee_rate_bps = Decimal(300)
    matched_at = datetime(2026, 12, 5, tzinfo=UTC)
    status = "MATCHED"


def test_paper_and_live_book_the_same_maker_and_taker_fees() -> None:
    """The same 40 shares at 0.30 in a market charging takers 0.03: as maker nothing on both
    desks, as taker the schedule's fee on both."""
    schedule = FeeSchedule(*SPORTS)
    at = _Trade.matched_at
    level = Level(("0x01", 0), at, Decimal("0.30"), Decimal(40))
    [live_maker] = our_fills(_Trade(), {"ours"}, schedule)
    paper_maker = Take(level, Decimal(40), Decimal("0.30"), maker=True).report(schedule.rate, at)
    assert live_maker.fill.fee == paper_maker.fee == 0
    paper_taker = Take(level, Decimal(40), Decimal("0.30"), maker=False).report(schedule.rate, at)
    taker = fill_fee(Decimal(40), Decimal("0.30"), schedule, maker=False)
    assert paper_taker.fee == taker == Decimal("0.252")
