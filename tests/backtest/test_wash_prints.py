"""A wash pair's print against the backtest's prices, as against the executor's
(tests/execution/test_wash_prints.py): the mark of an open position (the end's P&L, the equity
curve, the day's P&L) and the exit's quote are the token's tape price
(:mod:`orderflow.signals.tape`), which one pair of wallets printing last cannot set."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, BacktestReport, run_backtest
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr, token_of

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the leader's buy
WHALE = addr("whale")
WASH_A, WASH_B = addr("wash a"), addr("wash b")
SETTINGS = StrategySettings(order_ttl_secs=1800)


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def _run(pool: asyncpg.Pool) -> BacktestReport:
    opts = BacktestOptions(start=T0, end=T0 + timedelta(days=3), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, opts, whale_scores)
    assert report is not None
    return report


def _honest(h: History, market: str, price: str, at: datetime, pairs: int = 4) -> None:
    """``pairs`` distinct pairs matching at ``price`` a minute apart from ``at``: maker rows
    (makers' SELLs, each naming its own taker)."""
    for i in range(pairs):
        h.trade(
            addr(f"maker {i}"), market, 0, "SELL", price, "100", at + timedelta(minutes=i),
            taker=False, taker_address=addr(f"taker {i}"),
        )  # fmt: skip


def _wash(h: History, market: str, price: str, at: datetime) -> None:
    """The pair's match: A's resting BUY at ``price`` hit by B (a "bid" at ``price``)."""
    h.trade(WASH_A, market, 0, "BUY", price, "100", at, taker=False, taker_address=WASH_B)


async def test_an_open_position_is_marked_where_distinct_pairs_trade(pool: asyncpg.Pool) -> None:
    """Bought at 0.50 where four pairs trade at 0.50; the last print before the end is a wash
    pair's at 0.04. The executor marks the position at 0.50 (the median of the last five pairs'
    prints); the backtest marked it at 0.04: a loss of 0.46 a share in its P&L and equity."""
    h = History()
    market = h.market("washed")
    token = token_of(market, 0)
    h.trade(WHALE, market, 0, "BUY", "0.50", "500", T)
    h.ask(market, 0, "0.50", "5000", T + timedelta(minutes=1))
    _honest(h, market, "0.50", T + timedelta(hours=1))
    _wash(h, market, "0.04", T + timedelta(hours=30))
    await h.store(pool)
    report = await _run(pool)
    run = report.result.runs[0]
    held = run.book.open[token]
    at_tape = held.position.total_pnl(Decimal("0.50"))
    assert held.signal.status == "EXECUTED" and held.signal.pnl == at_tape
    assert run.equity[-1][1] == run.book.bankroll + at_tape
    assert report.result.last_prices[token] == Decimal("0.50")


async def test_a_second_day_is_not_refused_on_a_wash_pairs_print(pool: asyncpg.Pool) -> None:
    """The wash pair prints 0.04 in the held token; the whale then buys another market. The
    executor's day P&L marks the held position at 0.50 (no loss) and follows; the backtest read
    a loss of 0.46 a share past the daily loss limit and refused the entry."""
    h = History()
    market, other = h.market("washed"), h.market("other")
    h.trade(WHALE, market, 0, "BUY", "0.50", "500", T)
    h.ask(market, 0, "0.50", "5000", T + timedelta(minutes=1))
    _honest(h, market, "0.50", T + timedelta(hours=1))
    _wash(h, market, "0.04", T + timedelta(hours=3))
    h.trade(WHALE, other, 0, "BUY", "0.40", "500", T + timedelta(hours=4))
    h.ask(other, 0, "0.40", "5000", T + timedelta(hours=4, minutes=1))
    await h.store(pool)
    report = await _run(pool)
    signals = report.result.runs[0].book.signals
    assert [(s.status, s.reason) for s in signals] == [
        ("EXECUTED", "accepted"),
        ("EXECUTED", "accepted"),
    ]


async def test_an_exit_is_not_priced_at_a_wash_pairs_bid(pool: asyncpg.Pool) -> None:
    """The whale sells at 0.50; before our exit's decision the wash pair prints a "bid" at
    0.04. The executor holds the quote to the tape price (0.50: four pairs traded there in the
    quote's window) and sells into the bid at 0.50 that comes; the backtest priced the exit at
    0.04, and that bid, above the quote, crossed it at 0.04: 0.46 a share given away."""
    h = History()
    market = h.market("washed-exit")
    sold = T + timedelta(hours=5)
    h.trade(WHALE, market, 0, "BUY", "0.50", "500", T)
    h.ask(market, 0, "0.50", "5000", T + timedelta(minutes=1))
    _honest(h, market, "0.50", sold - timedelta(minutes=10))
    h.trade(WHALE, market, 0, "SELL", "0.50", "500", sold)
    _wash(h, market, "0.04", sold + timedelta(seconds=2))
    h.bid(market, 0, "0.50", "5000", sold + timedelta(minutes=1))
    await h.store(pool)
    report = await _run(pool)
    entry, exit_ = report.result.runs[0].book.signals
    assert (exit_.side, exit_.status, exit_.reason) == ("SELL", "EXECUTED", "exit_with_leader")
    assert exit_.limit_price is not None and exit_.limit_price > Decimal("0.45")
    assert exit_.price == Decimal("0.50")
    assert entry.close_reason == "exit"
