"""Performance of one follower's replay: P&L, win rate, Sharpe, drawdown, per signal type.

Definitions (docs/backtest.md repeats them):

* P&L = realized (positions settled by a resolution) + unrealized (open positions marked at the
  last traded price when the replay ends); fees included.
* Win rate = winning closed positions / closed positions (open ones are neither).
* Sharpe = mean / standard deviation of per-step equity changes (as a fraction of the
  bankroll), annualised with sqrt(steps per year); None with fewer than two steps or no variance.
* Max drawdown = the largest fall of equity from a previous peak, in USDC and as a fraction of
  that peak.
* Return on stake = P&L / collateral spent (fills plus fees): comparable across followers that
  stake different amounts.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel

from orderflow.backtest.book import SignalRecord
from orderflow.backtest.engine import Run

YEAR = timedelta(days=365)
ZERO = Decimal(0)


class TypeSummary(BaseModel):
    signals: int = 0
    executed: int = 0
    wins: int = 0
    losses: int = 0
    pnl: Decimal = ZERO

    @property
    def win_rate(self) -> float | None:
        closed = self.wins + self.losses
        return self.wins / closed if closed else None


class RunSummary(BaseModel):
    name: str
    signals: int
    executed: int
    skipped: int
    positions_closed: int
    positions_open: int
    wins: int
    losses: int
    win_rate: float | None
    pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    staked: Decimal
    return_on_stake: float | None
    sharpe: float | None
    max_drawdown_usdc: Decimal
    max_drawdown_pct: float | None
    by_type: dict[str, TypeSummary]
    skip_reasons: dict[str, int]
    followed_wallets: int


def sharpe(equity: list[Decimal], bankroll: Decimal, step: timedelta) -> float | None:
    if len(equity) < 3 or bankroll <= 0:
        return None
    returns = [float((b - a) / bankroll) for a, b in itertools.pairwise(equity)]
    sd = statistics.pstdev(returns)
    if sd == 0:
        return None
    return statistics.fmean(returns) / sd * math.sqrt(YEAR / step)


def max_drawdown(equity: list[Decimal]) -> tuple[Decimal, float | None]:
    peak: Decimal | None = None
    worst = ZERO
    worst_pct: float | None = None
    for value in equity:
        if peak is None or value > peak:
            peak = value
        fall = peak - value
        if fall > worst:
            worst = fall
            worst_pct = float(fall / peak) if peak > 0 else None
    return worst, (worst_pct if worst > 0 else 0.0)


def _closed(signal: SignalRecord) -> bool:
    return signal.closed_at is not None


def summarize(run: Run, step: timedelta) -> RunSummary:
    book = run.book
    signals = book.signals
    executed = [s for s in signals if s.status == "EXECUTED"]
    entries = [s for s in executed if s.is_entry]  # one position each; exits close them
    closed = [s for s in entries if _closed(s)]
    wins = sum(1 for s in closed if (s.pnl or ZERO) > 0)
    by_type: dict[str, TypeSummary] = {}
    for s in signals:
        t = by_type.setdefault(s.signal_type, TypeSummary())
        t.signals += 1
        if s.status == "EXECUTED":
            t.executed += 1
        if s.status == "EXECUTED" and s.is_entry:
            t.pnl += s.pnl or ZERO
            if _closed(s):
                if (s.pnl or ZERO) > 0:
                    t.wins += 1
                else:
                    t.losses += 1
    staked = sum(((s.size_usdc or ZERO) + s.fee for s in entries), ZERO)
    pnl = sum((s.pnl or ZERO for s in entries), ZERO)
    unrealized = sum((s.pnl or ZERO for s in entries if not _closed(s)), ZERO)
    values = [v for _, v in run.equity]
    dd, dd_pct = max_drawdown(values)
    return RunSummary(
        name=run.follower.name,
        signals=len(signals),
        executed=len(executed),
        skipped=len(signals) - len(executed),
        positions_closed=len(closed),
        positions_open=len(entries) - len(closed),
        wins=wins,
        losses=len(closed) - wins,
        win_rate=wins / len(closed) if closed else None,
        pnl=pnl,
        realized_pnl=pnl - unrealized,
        unrealized_pnl=unrealized,
        staked=staked,
        return_on_stake=float(pnl / staked) if staked > 0 else None,
        sharpe=sharpe(values, book.bankroll, step),
        max_drawdown_usdc=dd,
        max_drawdown_pct=dd_pct,
        by_type=by_type,
        skip_reasons=dict(
            Counter(s.reason for s in signals if s.status != "EXECUTED").most_common()
        ),
        followed_wallets=len({s.wallet for s in entries}),
    )
