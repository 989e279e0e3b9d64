"""The look-ahead trap: history where only knowledge of the future pays.

Five "prophets" buy the winning side of 40 markets at 0.30 during the first ten days; every
market resolves on day 20. Honestly replayed, nobody can know they are prophets before day 20,
and by then there is nothing left to follow: the backtest must take no position and make
nothing. The same backtest with a scorer that peeks (scores as of the end, whatever step it is
asked about) follows them and profits — which proves the trap is armed, so the honest result
is not an accident of thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.backtest.engine import Scorer
from orderflow.backtest.scoring import reputation_scorer
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
END = T0 + timedelta(days=25)
PROPHETS = [addr(f"prophet-{i}") for i in range(5)]
SETTINGS = StrategySettings(max_open_positions=100, max_market_exposure_usd=5000)


async def _trap(pool: asyncpg.Pool) -> History:
    history = History()
    for m in range(40):
        market = history.market(f"m{m}")
        for i, wallet in enumerate(PROPHETS):
            at = T0 + timedelta(hours=6 * m + i + 1)  # days 0-10
            history.trade(wallet, market, 0, "BUY", "0.30", "400", at)
            history.ask(market, 0, "0.30", "4000", at + timedelta(minutes=1))  # the book after
        history.resolve(market, 0, T0 + timedelta(days=20))
    await history.store(pool)
    return history


_RECORD = """
SELECT t.wallet_address, count(*) AS n
  FROM orderflow_trades t
  JOIN orderflow_market_outcomes o ON o.market_id = t.market_id
 WHERE t.is_taker_aggregate AND t.side = 'BUY' AND t.timestamp <= $1 AND o.resolved_at <= $1
   AND o.payouts[t.outcome_index + 1] = 1
 GROUP BY t.wallet_address
"""


async def record_scorer(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    """A scorer that knows only the record as of ``as_of``: 10 resolved winning buys make a
    WHALE. Independent of the reputation model, so the trap tests the replay's own discipline
    (the reputation stage's as-of gate has its own tests; the second test below uses it)."""
    return {
        r["wallet_address"]: WalletView(
            r["wallet_address"], 9.0, "WHALE", edge=0.3, edge_se=0.05, resolved_buys=r["n"]
        )
        for r in await conn.fetch(_RECORD, as_of)
        if r["n"] >= 10
    }


def peeking(scorer: Scorer) -> Scorer:
    """A scorer with the as-of gate removed: always answers as of the end of history."""

    async def score(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
        return await scorer(conn, END)

    return score


@pytest.mark.parametrize("step_hours", [24, 6])
async def test_honest_backtest_cannot_profit_from_the_future(
    pool: asyncpg.Pool, step_hours: int
) -> None:
    await _trap(pool)
    options = BacktestOptions(start=T0, end=END, step_secs=step_hours * 3600)
    async with pool.acquire() as conn:
        honest = await run_backtest(conn, SETTINGS, options, record_scorer)
        leaky = await run_backtest(conn, SETTINGS, options, peeking(record_scorer))
        # The reputation stage's own scorer, honestly: nobody to follow before day 20 either.
        reputation = await run_backtest(conn, SETTINGS, options, reputation_scorer())
    assert honest is not None and leaky is not None

    # The trap is armed: seeing the future, the same code follows the prophets and profits.
    assert leaky.strategy.executed > 0
    assert leaky.strategy.pnl > Decimal(100)
    assert {s.wallet for s in leaky.result.runs[0].book.signals} <= set(PROPHETS)

    # The honest replay never gets to follow them, so it cannot make that money.
    assert honest.strategy.executed == 0
    assert honest.strategy.pnl == 0
    reasons = {s.reason for s in honest.result.runs[0].book.signals}
    assert "accepted" not in reasons
    assert reputation is not None and reputation.strategy.executed == 0


async def test_positions_settle_only_when_the_resolution_happens(pool: asyncpg.Pool) -> None:
    await _trap(pool)
    options = BacktestOptions(start=T0, end=END, step_secs=86_400)
    async with pool.acquire() as conn:
        leaky = await run_backtest(conn, SETTINGS, options, peeking(record_scorer))
    assert leaky is not None
    closed = [s for s in leaky.result.runs[0].book.signals if s.closed_at is not None]
    assert closed
    assert all(s.closed_at == T0 + timedelta(days=20) for s in closed)
    # Before the resolution the equity can only reflect marks, never the payout.
    resolved_at = T0 + timedelta(days=20)
    equity = dict(leaky.result.runs[0].equity)
    bankroll = Decimal(str(SETTINGS.bankroll_usd))
    before = [v for t, v in equity.items() if t < resolved_at]
    after = [v for t, v in equity.items() if t >= resolved_at]
    assert max(before) - bankroll < Decimal(1)  # marked at the prophets' own 0.30: no gain yet
    assert min(after) - bankroll > Decimal(100)


WHALE = addr("whale")


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def test_nothing_after_the_end_fills_a_signal(pool: asyncpg.Pool) -> None:
    """A held-out ``end``: the trades after it are not there for the backtest's last fills.

    Three whale buys near the end, each followed by an ask: one revealed before the end (it
    fills), one after the end within the book window of a decision before the end, one after
    the end for a decision due after it (the whale bought 3 s before the end, the latency is
    8 s). Neither of the last two may be met: the fill would be priced from a trade after end.
    """
    end = T0 + timedelta(days=1)
    h = History()
    before, straddle, after = h.market("before"), h.market("straddle"), h.market("after")
    h.trade(WHALE, before, 0, "BUY", "0.40", "1000", end - timedelta(minutes=10))
    h.ask(before, 0, "0.40", "10000", end - timedelta(minutes=5))
    h.trade(WHALE, straddle, 0, "BUY", "0.40", "1000", end - timedelta(minutes=2))
    h.ask(straddle, 0, "0.41", "10000", end + timedelta(minutes=1))
    h.trade(WHALE, after, 0, "BUY", "0.40", "1000", end - timedelta(seconds=3))
    h.ask(after, 0, "0.40", "10000", end + timedelta(minutes=1))
    h.trade(addr("later"), after, 0, "BUY", "0.40", "10", end + timedelta(hours=1))
    await h.store(pool)
    options = BacktestOptions(start=T0, end=end, random_share=1.0)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, StrategySettings(), options, whale_scores)
    assert report is not None
    for run in report.result.runs:  # the strategy and both baselines
        by_market = {s.market_id: s for s in run.book.signals}
        assert (by_market[before].status, by_market[before].price) == (
            "EXECUTED",
            Decimal("0.40"),
        ), run.follower.name
        for market in (straddle, after):
            signal = by_market[market]
            assert (signal.status, signal.price) == ("SKIPPED", None), (
                run.follower.name,
                signal.status,
                signal.price,
                signal.time,
            )
        assert by_market[straddle].reason == "no_liquidity"
        assert by_market[after].reason == "past_end"
        assert by_market[after].time > end


async def test_an_ask_revealed_after_the_decision_does_not_price_it(pool: asyncpg.Pool) -> None:
    """The decision, ``latency`` after the whale's buy, reads only what the tape shows by then
    (the executor's quote: the whale's own fill, an ask at 0.40); the book revealed after it can
    fill the order, never price it. A maker's offer at 0.42 taken a minute later, in a market
    that then resolves for the whale: the executor sends a limit of 0.41 (0.40 + 20 bps, up to
    the tick) that never meets it. The backtest used to price its order at that later offer
    (limit 0.43) and bought the winner at 0.42 — a profit nobody could have had."""
    t = T0 + timedelta(hours=1)
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", t)
    h.ask(m, 0, "0.42", "10000", t + timedelta(minutes=1))
    h.resolve(m, 0, t + timedelta(hours=2))
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), random_share=1.0)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, StrategySettings(), options, whale_scores)
    assert report is not None
    for run in report.result.runs:  # the strategy and both baselines
        [signal] = run.book.signals
        assert (signal.status, signal.reason, signal.limit_price, signal.price) == (
            "SKIPPED",
            "no_liquidity",
            Decimal("0.41"),
            None,
        ), run.follower.name
        assert run.book.realized == 0 and not run.book.open, run.follower.name
