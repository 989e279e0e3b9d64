"""A resting order's fill is booked when the flow that meets it comes, as paper and live book it.

The executor's order rests from its placement until it is filled, expires (the strategy's
``order_ttl_secs``), is cancelled because the leader it followed left the token (the leader-exit
cancel, docs/executor.md), or is closed by its market's resolution; each fill is booked when a
crossing trade comes, at the fill's price, and the position starts there. The backtest booked the
whole fill at the decision — from a seller hours later, after the leader had left or the market
had resolved — and held and marked the position from the decision (docs/backtest.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, BacktestReport, run_backtest
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the whale's buy
WHALE = addr("whale")
LIFE = timedelta(hours=6)  # the order's life (the demo's strategy sets 6 h)
SETTINGS = StrategySettings(order_ttl_secs=LIFE.total_seconds())


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def _run(
    pool: asyncpg.Pool, h: History, step: timedelta = timedelta(days=1)
) -> BacktestReport:
    await h.store(pool)
    options = BacktestOptions(
        start=T0, end=T0 + timedelta(days=3), step_secs=step.total_seconds(), random_share=1.0
    )
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, whale_scores)
    assert report is not None
    return report


def _signals(report: BacktestReport, run: int) -> list[tuple[str, str, str]]:
    return [(s.side, s.status, s.reason) for s in report.result.runs[run].book.signals]


async def test_a_cross_after_the_leader_left_fills_nothing(pool: asyncpg.Pool) -> None:
    """The whale buys YES at 0.40 (our limit 0.41); nothing crosses the order for an hour; the
    whale sells at T + 1 h, and the executor cancels what rests of its entry; a seller hits a
    bid at 0.30 at T + 2 h, which would have filled the order had it still rested. The market
    resolves against the whale. The backtest bought at the decision from that seller and held a
    losing position the executor never had."""
    h = History()
    market = h.market("left-before-the-cross")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.trade(WHALE, market, 0, "SELL", "0.40", "1000", T + timedelta(hours=1))
    h.bid(market, 0, "0.30", "5000", T + timedelta(hours=2))
    h.resolve(market, 1, T + timedelta(hours=5))
    report = await _run(pool, h)
    for run in (0, 1, 2):  # the strategy and both baselines follow the whale's buy
        assert _signals(report, run) == [("BUY", "SKIPPED", "leader_exited")]
        entry = report.result.runs[run].book.signals[0]
        assert entry.shares == 0 and entry.pnl is None
        assert entry.order_closed == (T + timedelta(hours=1) + report.result.execution.latency)
        assert report.summaries[run].positions_closed == report.summaries[run].positions_open == 0


async def test_what_filled_before_the_leader_left_is_kept_and_exited(pool: asyncpg.Pool) -> None:
    """A seller fills 20 shares of the resting entry at T + 30 min; the whale sells at T + 1 h:
    the rest of the entry is cancelled, and the 20 shares are exited into the bid revealed after
    the sale. More sellers below the limit at T + 2 h fill nothing: the order was cancelled.
    The backtest bought every share at the decision."""
    h = History()
    market = h.market("partly-filled")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.bid(market, 0, "0.35", "20", T + timedelta(minutes=30))
    h.trade(WHALE, market, 0, "SELL", "0.40", "1000", T + timedelta(hours=1))
    h.bid(market, 0, "0.40", "5000", T + timedelta(hours=1, minutes=1))
    h.bid(market, 0, "0.30", "5000", T + timedelta(hours=2))
    h.resolve(market, 1, T + timedelta(hours=5))
    report = await _run(pool, h)
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("SELL", "EXECUTED", "exit_with_leader"),
    ]
    entry, exit_ = report.result.runs[0].book.signals
    # maker, at L
    assert (entry.shares, entry.price, entry.fee) == (Decimal(20), Decimal("0.41"), Decimal(0))
    assert entry.order_close == "leader_exited"
    assert exit_.shares == 20 and entry.close_reason == "exit"
    held = report.result.runs[0].book.closed[0].position
    assert held.opened_at == T + timedelta(minutes=30)


async def test_a_cross_after_the_order_expired_fills_nothing(pool: asyncpg.Pool) -> None:
    """The order lives 6 h; the first seller below its limit comes 7 h after the decision: the
    order has expired unfilled (``no_liquidity``), for the strategy and the baselines."""
    h = History()
    market = h.market("too-late")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.bid(market, 0, "0.30", "5000", T + timedelta(hours=7))
    h.resolve(market, 1, T0 + timedelta(days=2))
    report = await _run(pool, h)
    for run in (0, 1, 2):
        assert _signals(report, run) == [("BUY", "SKIPPED", "no_liquidity")]
        assert report.summaries[run].positions_closed == 0


async def test_a_cross_after_the_market_resolved_fills_nothing(pool: asyncpg.Pool) -> None:
    """The market resolves 2 h after the decision, and the CLOB cancels what rests on it (the
    paper exchange too); a seller below the limit recorded after the resolution filled the
    backtest's order at the decision, a position it then settled."""
    h = History()
    market = h.market("resolved-first")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.resolve(market, 1, T + timedelta(hours=2))
    h.bid(market, 0, "0.30", "5000", T + timedelta(hours=3))
    report = await _run(pool, h)
    for run in (0, 1, 2):
        assert _signals(report, run) == [("BUY", "SKIPPED", "market_resolved")]
        assert report.summaries[run].positions_closed == 0


async def test_a_cross_in_time_is_booked_when_it_comes(pool: asyncpg.Pool) -> None:
    """The seller comes 2 h after the decision: the position is opened then, at the order's
    limit as maker, and the equity of the hourly steps before it holds no position (the backtest
    held and marked it from the decision: the equity at T + 1 h fell with the last price 0.20)."""
    h = History()
    market = h.market("in-time")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.trade(addr("someone"), market, 0, "BUY", "0.20", "10", T + timedelta(minutes=30))
    cross = T + timedelta(hours=2)
    h.bid(market, 0, "0.30", "5000", cross)
    h.resolve(market, 0, T0 + timedelta(days=2))
    report = await _run(pool, h, step=timedelta(hours=1))
    strategy = report.result.runs[0]
    assert _signals(report, 0) == [("BUY", "EXECUTED", "accepted")]
    entry = strategy.book.signals[0]
    assert entry.time == T + report.result.execution.latency  # the decision
    before = [equity for when, equity in strategy.equity if T < when < cross]
    assert before and all(equity == strategy.book.bankroll for equity in before)
    held = strategy.book.closed[0].position
    assert held.opened_at == cross
    assert (entry.price, entry.fee, entry.order_close) == (Decimal("0.41"), Decimal(0), "filled")
    assert entry.order_closed == cross


async def test_an_order_resting_unfilled_counts_in_the_book(pool: asyncpg.Pool) -> None:
    """While the first order rests unfilled, the whale buys again: the executor's book counts
    the resting order as the position it becomes (``position_exists``). The backtest had no
    position (nothing had filled by then ... or everything had, at the decision)."""
    h = History()
    market = h.market("resting")
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T)
    h.trade(WHALE, market, 0, "BUY", "0.40", "1000", T + timedelta(hours=1))
    h.bid(market, 0, "0.30", "5000", T + timedelta(hours=8))
    h.resolve(market, 0, T0 + timedelta(days=2))
    report = await _run(pool, h)
    assert _signals(report, 0) == [
        ("BUY", "SKIPPED", "no_liquidity"),
        ("BUY", "SKIPPED", "position_exists"),
    ]
