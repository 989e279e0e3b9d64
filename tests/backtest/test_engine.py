"""Walk-forward mechanics on a hand-computed history, with a fixed scorer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.backtest.followers import in_random_subset
from orderflow.signals.model import win_probability
from orderflow.signals.rules import SignalType
from orderflow.signals.sizing import entry_price, size_position
from orderflow.signals.views import TradeView, WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
WHALE = addr("whale")
NOBODY = addr("nobody")
SETTINGS = StrategySettings()  # seed defaults: 25% Kelly, 10k bankroll, 20 bps slippage, no fee


_SCORES = {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.10, edge_se=0.01, resolved_buys=50)}


async def fixed_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return _SCORES


async def _history(pool: asyncpg.Pool) -> tuple[str, str]:
    h = History()
    won, lost = h.market("won"), h.market("lost")
    h.trade(WHALE, won, 0, "BUY", "0.40", "500", T0 + timedelta(hours=1))
    h.ask(won, 0, "0.40", "5000", T0 + timedelta(hours=1, minutes=1))  # the book we meet
    h.trade(NOBODY, won, 0, "BUY", "0.45", "200", T0 + timedelta(hours=2))
    h.ask(won, 0, "0.45", "5000", T0 + timedelta(hours=2, minutes=1))
    h.trade(WHALE, lost, 1, "BUY", "0.60", "500", T0 + timedelta(hours=3))
    h.ask(lost, 1, "0.60", "5000", T0 + timedelta(hours=3, minutes=1))
    h.resolve(won, 0, T0 + timedelta(days=2))
    h.resolve(lost, 0, T0 + timedelta(days=2))  # the whale's NO loses
    h.trade(WHALE, won, 1, "BUY", "0.02", "5000", T0 + timedelta(days=3))  # after resolution
    await h.store(pool)
    return won, lost


def _kelly_shares(trigger: str, market: str) -> Decimal:
    """The executor's own sizing for a whale BUY at ``trigger`` with the book at ``market``."""
    trade = TradeView(
        137, "0x", 0, WHALE, "BUY", 1, Decimal(trigger), Decimal(500), Decimal(200), T0
    )
    (view,) = (v for v in _SCORES.values())
    p = win_probability(SignalType.FOLLOW_WHALE, trade, view)
    assert p is not None
    sizing = size_position(
        p,
        Decimal(market),
        SETTINGS,
        bankroll=Decimal(10_000),
        market_exposure=Decimal(0),
        tick=Decimal("0.01"),
    )
    assert sizing.price == entry_price(Decimal(market), SETTINGS, Decimal("0.01"))
    return sizing.shares


async def test_strategy_and_baselines_by_hand(pool: asyncpg.Pool) -> None:
    await _history(pool)
    options = BacktestOptions(
        start=T0, end=T0 + timedelta(days=4), step_secs=86_400, random_share=1.0
    )
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, fixed_scores)
    assert report is not None
    strategy, follow_all, follow_random = report.summaries

    # The whale's YES at 0.40: the executor sizes at the limit 0.40 * 1.002 rounded up to 0.41
    # (the best offer 8 s later is 0.40) and it pays that offer's 0.40.
    yes = _kelly_shares("0.40", "0.40")
    # The whale's NO at 0.60: limit 0.61, filled at 0.60.
    no = _kelly_shares("0.60", "0.60")
    assert yes > 0 and no > 0
    signals = report.result.runs[0].book.signals
    assert [(s.signal_type, s.status, s.shares, s.price, s.limit_price) for s in signals] == [
        ("FOLLOW_WHALE", "EXECUTED", yes, Decimal("0.40"), Decimal("0.41")),
        ("FOLLOW_WHALE", "EXECUTED", no, Decimal("0.60"), Decimal("0.61")),
        ("FOLLOW_WHALE", "SKIPPED", Decimal(0), None, None),
    ]
    trigger = signals[0].trigger_time
    assert trigger is not None
    assert signals[0].time == trigger + timedelta(seconds=8.008)
    assert signals[2].reason == "market_resolved"
    expected = yes * (1 - Decimal("0.40")) - no * Decimal("0.60")
    assert strategy.pnl == expected.quantize(Decimal("0.000001"))
    assert (strategy.wins, strategy.losses, strategy.win_rate) == (1, 1, 0.5)
    assert strategy.by_type["FOLLOW_WHALE"].pnl == strategy.pnl
    assert all(s.closed_at == T0 + timedelta(days=2) for s in signals[:2])

    # Follow-all: every BUY of at least min_trigger_usd, 100 USDC each, at the same entry rule.
    fills = [(s.wallet, s.status, s.price) for s in report.result.runs[1].book.signals]
    assert fills == [
        (WHALE, "EXECUTED", Decimal("0.40")),
        (NOBODY, "SKIPPED", None),  # position_exists: one position per token
        (WHALE, "EXECUTED", Decimal("0.60")),
        (WHALE, "SKIPPED", None),  # market_resolved
    ]
    a = (Decimal(100) / Decimal("0.41")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    b = (Decimal(100) / Decimal("0.61")).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    assert follow_all.pnl == (a * Decimal("0.60") - b * Decimal("0.60")).quantize(
        Decimal("0.000001")
    )
    # A random share of 1.0 follows everyone: the same as follow-all.
    assert follow_random.pnl == follow_all.pnl

    # Equity: flat until the resolution day, then the realized P&L.
    equity = report.result.runs[0].equity
    assert equity[0] == (T0, Decimal(10_000))
    assert equity[-1][1] == Decimal(10_000) + strategy.pnl


async def test_scores_are_asked_as_of_each_step_start(pool: asyncpg.Pool) -> None:
    await _history(pool)
    asked: list[datetime] = []

    async def recording(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
        asked.append(as_of)
        return await fixed_scores(conn, as_of)

    options = BacktestOptions(start=T0, end=T0 + timedelta(days=4), step_secs=6 * 3600)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, recording)
    # the history ends on day 3 (its last fill): the replay stops at the data's end, not
    # at the fourth day asked for (docs/backtest.md)
    assert report is not None and report.bounded_by_data and report.result.steps == 13
    assert asked == [T0 + timedelta(hours=6 * i) for i in range(13)]


async def test_empty_history_gives_no_report(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await run_backtest(conn, SETTINGS, BacktestOptions(), fixed_scores) is None


def test_random_subset_is_seeded_and_proportional() -> None:
    wallets = [addr(f"w{i}") for i in range(4000)]
    chosen = [w for w in wallets if in_random_subset(w, 3, 0.1)]
    assert 300 < len(chosen) < 500
    assert chosen == [w for w in wallets if in_random_subset(w, 3, 0.1)]
    assert chosen != [w for w in wallets if in_random_subset(w, 4, 0.1)]


async def test_a_token_of_no_known_market_is_not_entered(pool: asyncpg.Pool) -> None:
    """The listener stores fills of tokens it cannot place yet with market_id NULL. The executor
    enters no such token (``market_unknown``: its resolution, its other outcomes and its market's
    exposure cannot be read), and the replay decides as it does (it entered and marked one)."""
    h = History()
    market = h.market("known")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T0 + timedelta(hours=1))
    h.ask(market, 0, "0.40", "5000", T0 + timedelta(hours=1, minutes=1))
    await h.store(pool)
    await pool.execute("UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL")
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, fixed_scores)
    assert report is not None
    strategy = report.summaries[0]
    assert (strategy.executed, strategy.positions_open) == (0, 0)
    (signal,) = report.result.runs[0].book.signals
    assert (signal.status, signal.reason) == ("SKIPPED", "market_unknown")


async def test_strategy_exits_when_its_leader_sells(pool: asyncpg.Pool) -> None:
    """The executor's exit rule, replayed: the followed wallet sells, so does the strategy."""
    h = History()
    market = h.market("exit")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T0 + timedelta(hours=1))
    h.ask(market, 0, "0.40", "5000", T0 + timedelta(hours=1, minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", T0 + timedelta(hours=5))
    h.bid(market, 0, "0.55", "5000", T0 + timedelta(hours=5, minutes=1))
    h.resolve(market, 1, T0 + timedelta(days=2))  # YES loses: holding on would have cost all
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=3), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, fixed_scores)
    assert report is not None
    entry, exit_ = report.result.runs[0].book.signals
    assert (entry.side, exit_.side, exit_.reason) == ("BUY", "SELL", "exit_with_leader")
    # A limit at the best bid 0.55 less 20 bps, rounded down to the tick: 0.54; the bid is 0.55.
    assert exit_.limit_price == Decimal("0.54") and exit_.price == Decimal("0.55")
    assert exit_.shares == entry.shares
    decided = T0 + timedelta(hours=5, seconds=8.008)
    assert exit_.time == decided
    # Closed when the bid it sold into came, not at the decision.
    assert entry.close_reason == "exit" and entry.closed_at == T0 + timedelta(hours=5, minutes=1)
    assert entry.pnl == entry.shares * (Decimal("0.55") - Decimal("0.40"))
    assert report.strategy.pnl == entry.pnl and report.strategy.positions_open == 0
