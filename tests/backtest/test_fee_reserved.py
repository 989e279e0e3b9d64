"""A resting entry counts the taker fee it may still pay, as the executor's paper order does.

The executor counts a live BUY as the position it becomes if it fills: its remaining size at
its limit, plus the taker fee a share it may still pay (``orderflow.execution.book.
fee_reserved``: an order on its way or in doubt, and a resting paper order — the paper exchange
charges the fee on the levels it takes; ``order_exposure``). The backtest's resting orders are
the paper exchange's, but ``Orders.view`` counted them at their limit alone: with a bankroll of
250 and a taker fee rate of 0.25, each entry resting at 0.50 for 39.59 USDC left 4.95 USDC of
fee (79.18 shares at 0.0625) out of the cash the next entry was cut to, so six entries were
bought in full and a seventh for 6.73 USDC: 274.80 USDC spent of a 250 bankroll, nothing
realized, where the executor, counting each resting order at 0.51 (its limit) plus 0.0625 a
share, cuts the sixth to 40.80 shares and refuses the seventh ``bankroll_spent`` (until 6 Dec
2026).
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
    bankroll_usd=float(BANKROLL),
    max_position_usd=200.0,
    taker_fee_rate=0.25,
    kelly_fraction=1.0,
    max_open_positions=10,
    order_ttl_secs=1800,
)


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def test_resting_entries_reserve_their_taker_fee(pool: asyncpg.Pool) -> None:
    """Seven whale buys at 0.50 in seven markets a minute apart, each entry resting until its
    market's ask comes, 20 minutes after the first; every entry is taken at 0.50, a taker's
    fill paying 0.0625 a share."""
    h = History()
    for i in range(7):
        market = h.market(f"fee-{i}")
        h.trade(WHALE, market, 0, "BUY", "0.50", "500", T + timedelta(minutes=i))
        h.ask(market, 0, "0.50", "5000", T + timedelta(minutes=20 + i))
    await h.store(pool)
    options = BacktestOptions(start=T0, end=T0 + timedelta(days=1), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, options, whale_scores)
    assert report is not None
    signals = report.result.runs[0].book.signals
    got = [(s.status, s.reason, str(s.shares), str(s.size_usdc), str(s.fee)) for s in signals]
    spent = sum(((s.size_usdc or Decimal(0)) + s.fee for s in signals), Decimal(0))
    assert spent <= BANKROLL, (
        f"the strategy spent {spent} USDC of a {BANKROLL} bankroll, nothing realized"
        f" (status, reason, shares, USDC, fee): {got}"
    )
    assert got[5:] == [
        ("EXECUTED", "accepted", "40.80", "20.400000", "2.55000"),  # cut to its cash
        ("SKIPPED", "bankroll_spent", "0", "None", "0"),
    ], got
