"""The baselines never spend money they do not have.

docs/backtest.md (Limits): "like the executor's, a stake is cut to the follower's cash — the
bankroll plus all it realized, less its open positions' cost — and refused ``bankroll_spent``
when that buys less than the minimum: a follower never spends money it does not have"; and
``orderflow.backtest.followers``: the baselines go "through the executor's same market and book
risk gates ... so the only difference from the strategy is *whom* it follows and how much it
stakes". ``BaselineFollower.decide`` never read ``book.cash``: its fixed stake was bought
whatever the follower had left (follow-all spent 390.24 USDC of a 250 bankroll on four entries,
nothing realized, until 6 Dec 2026). Now its stake is cut to its cash and refused
``bankroll_spent`` below the minimum buy, as the strategy's.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, run_backtest
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)
WHALE = addr("whale")
BANKROLL = Decimal(250)
SETTINGS = StrategySettings(
    bankroll_usd=float(BANKROLL), max_position_usd=100.0, order_ttl_secs=1800
)


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def test_a_baseline_never_spends_more_than_its_bankroll(pool: asyncpg.Pool) -> None:
    """Four whale buys at 0.40 in four markets, an hour apart, each met by a deep ask a minute
    later; nothing resolves. With a bankroll of $250 and a $100 baseline stake, follow-all can
    pay for two stakes and a half: its third is cut to its cash, its fourth refused
    ``bankroll_spent``. It buys all four ($390 of collateral)."""
    h = History()
    for i in range(4):
        market = h.market(f"cash-{i}")
        at = T + timedelta(hours=i)
        h.trade(WHALE, market, 0, "BUY", "0.40", "500", at)
        h.ask(market, 0, "0.40", "5000", at + timedelta(minutes=1))
    await h.store(pool)
    options = BacktestOptions(
        start=T0,
        end=T0 + timedelta(days=1),
        step_secs=86_400,
        baseline_stake_usd=Decimal(100),
        random_share=1.0,
    )
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, whale_scores)
    assert report is not None
    for run in report.result.runs[1:]:  # follow-all, follow-random (every wallet)
        entries = [s for s in run.book.signals if s.status == "EXECUTED" and s.is_entry]
        spent = sum(((s.size_usdc or Decimal(0)) + s.fee for s in entries), Decimal(0))
        assert spent <= BANKROLL, (
            f"{run.follower.name} spent {spent} USDC on {len(entries)} entries with a bankroll "
            f"of {BANKROLL} and nothing realized: "
            f"{[(s.status, s.reason, str(s.size_usdc)) for s in run.book.signals]}"
        )
