"""The backtest's resting order meets the price falling through it (adverse selection).

The follower's order rests at its limit for its life (the strategy's ``order_ttl_secs``). A seller
revealed during it below the limit — a taker hitting a lower bid, an ask posted below the quote,
the complement's mirror flows — met the resting bid first (the CLOB matches by price) and filled
it at its limit. Before, the backtest let the order take only the offers that could have been
resting on arrival: when the price fell after the decision it skipped ``no_liquidity`` and never
held the falling token (docs/backtest.md "Limits").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.execution.depth import Level, fill_resting
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import MAKER, History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)
WHALE = addr("whale")


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def test_a_price_falling_through_the_resting_bid_fills_it_at_its_limit(
    pool: asyncpg.Pool,
) -> None:
    """The whale buys YES at 0.40; every follower's order rests at 0.41 (the quote 0.40 + 20 bps,
    up to the tick). No ask is revealed; the price falls: a minute later a taker sells YES into a
    bid at 0.30 (market ``own``), or buys NO at 0.72 from a maker's ask — by minting with our bid
    of YES, a seller of YES at 0.28 (market ``mirror``). Both resolve against the whale."""
    h = History()
    own, mirror = h.market("own"), h.market("mirror")
    for m in (own, mirror):
        h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
        h.resolve(m, 1, T + timedelta(hours=2))
    h.bid(own, 0, "0.30", "5000", T + timedelta(minutes=1))
    h.trade(MAKER, mirror, 1, "SELL", "0.72", "5000", T + timedelta(minutes=1), taker=False)
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), random_share=1.0)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, StrategySettings(), options, whale_scores)
    assert report is not None
    for run in report.result.runs:  # the strategy and both baselines
        for signal in run.book.signals:
            assert (signal.status, signal.limit_price, signal.price, signal.fee) == (
                "EXECUTED",
                Decimal("0.41"),
                Decimal("0.41"),  # at the resting order's limit, as maker: no fee
                Decimal(0),
            ), (run.follower.name, signal.market_id, signal.status, signal.reason)
            assert signal.shares > 0 and signal.pnl == -(signal.shares * Decimal("0.41"))


def _lv(name: str, minute: int, price: str, shares: str) -> Level:
    return Level((name, 0), T + timedelta(minutes=minute), Decimal(price), Decimal(shares))


def test_offers_first_then_the_flow_oldest_first_each_share_once() -> None:
    asks = [_lv("ask", 5, "0.40", "10"), _lv("cross", 1, "0.30", "10")]
    bids = [
        _lv("late", 3, "0.35", "10"),
        _lv("early", 2, "0.20", "10"),
        _lv("tie", 1, "0.41", "99"),  # a bid at our price may be older than ours
        _lv("gift", 1, "0", "99"),  # no order rests at 0
    ]
    consumed: dict[tuple[str, int], Decimal] = {}
    limit, quote = Decimal("0.41"), Decimal("0.40")
    first = fill_resting(asks, bids, "BUY", Decimal(25), limit, quote, consumed)
    assert [(t.level.key[0], t.shares, t.price, t.maker) for t in first] == [
        ("ask", Decimal(10), Decimal("0.40"), False),
        ("cross", Decimal(10), limit, True),
        ("early", Decimal(5), limit, True),
    ]
    # A second order of the same follower meets only what the first left.
    second = fill_resting(asks, bids, "BUY", Decimal(100), limit, quote, consumed)
    assert [(t.level.key[0], t.shares) for t in second] == [
        ("early", Decimal(5)),
        ("late", Decimal(10)),
    ]
    # The mirror: a SELL resting at 0.59 meets buyers above it.
    offers = [_lv("bid", 1, "0.60", "10"), _lv("posted", 2, "0.70", "10")]
    buyers = [_lv("lifted", 3, "0.65", "10"), _lv("below", 1, "0.50", "10")]
    sell = fill_resting(offers, buyers, "SELL", Decimal(100), Decimal("0.59"), Decimal("0.60"), {})
    assert [(t.level.key[0], t.price, t.maker) for t in sell] == [
        ("bid", Decimal("0.60"), False),
        ("posted", Decimal("0.59"), True),
        ("lifted", Decimal("0.59"), True),
    ]
