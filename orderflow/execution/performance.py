"""Daily performance rows: trades, win rate, P&L, Sharpe ratio and maximum drawdown.

``orderflow_performance`` holds one row per UTC day and strategy. ``trades`` counts the
strategy's fills that day; wins and losses count positions closed that day by the sign of their
realized P&L (a sale's on the day of its last fill); ``realized_pnl`` is P&L realized since
00:00 UTC (partial sells included), ``total_pnl`` the P&L since 00:00 UTC (realized since
midnight plus the change of unrealized P&L since midnight's mark: :mod:`orderflow.execution.
daypnl`, the number the daily loss limit uses), ``unrealized_pnl`` the open positions'
unrealized P&L now at the same marks; ``equity`` is bankroll + all realized P&L to date +
unrealized P&L, so each row's is the one before it plus its ``total_pnl``.

Sharpe ratio: mean over standard deviation of daily returns (``total_pnl / bankroll``),
annualised with sqrt(365) (prediction markets trade every day); None with fewer than two days or
no variation. Maximum drawdown: the largest peak-to-trough fall of the bankroll plus the P&L to
each day's end, as a fraction of the peak (0.1 = 10 %): the equity curve on the row's bankroll
(``bankroll_usd`` on its day, kept when a past day's row is closed again), a change of which is
no gain or loss.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution import performance_queries
from orderflow.execution.daypnl import DayMarks, closed_day

# The most days closed at once (the newest): an executor down longer leaves the older ones as
# they were.
MAX_DAYS_CLOSED = 366


def day_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def sharpe_ratio(daily_returns: Sequence[float]) -> float | None:
    if len(daily_returns) < 2:
        return None
    mean = sum(daily_returns) / len(daily_returns)
    var = sum((r - mean) ** 2 for r in daily_returns) / (len(daily_returns) - 1)
    if var <= 0:
        return None
    return mean / math.sqrt(var) * math.sqrt(365)


def max_drawdown(equity: Sequence[float]) -> float | None:
    if not equity:
        return None
    peak = equity[0]
    worst = 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst


async def update_performance(
    conn: asyncpg.Connection,
    strategy: str,
    bankroll: Decimal,
    now: datetime,
    marks: DayMarks | None = None,
) -> None:
    """Today's row, after closing the days before it left open (:func:`close_days`)."""
    start = day_start(now)
    await close_days(conn, strategy, bankroll, start)
    day = await (marks or DayMarks()).day(conn, strategy, start)
    await performance_queries.upsert_performance_day(conn, strategy, start, bankroll, day)
    await _ratios(conn, strategy, bankroll, start)


async def close_days(
    conn: asyncpg.Connection, strategy: str, bankroll: Decimal, today_start: datetime
) -> int:
    """Close the days before today whose rows their own passes left open — the executor down
    across midnight, or its last pass minutes before it — and write those it missed whole (at
    most :data:`MAX_DAYS_CLOSED`, the newest), from history
    (:func:`orderflow.execution.daypnl.closed_day`); each with its ratios as of its end.
    Returns how many. A closed row is written after its day's end, and again when a fill of
    that day or a day before it is booked or reversed later (the fill changes queued by
    migration 078's trigger, taken in the same transaction): it is then what a close after that
    fill writes, and so are the rows after it."""
    async with conn.transaction():
        changed = await performance_queries.changed_since(conn, strategy)
        days = await performance_queries.days_to_close(
            conn, strategy, today_start, MAX_DAYS_CLOSED, changed
        )
        for start in days:
            closed = await closed_day(conn, strategy, start, start + timedelta(days=1))
            await performance_queries.upsert_closed_day(conn, strategy, start, bankroll, closed)
            await _ratios(conn, strategy, bankroll, start)
    return len(days)


async def _ratios(
    conn: asyncpg.Connection, strategy: str, bankroll: Decimal, start: datetime
) -> None:
    """The Sharpe ratio and maximum drawdown of the rows up to the day starting at ``start``,
    stored on that day's row: both of the daily P&L on that row's bankroll — the bankroll set
    on its day (``bankroll``, today's, for a row stored without one) — a change of
    ``bankroll_usd`` is capital given or taken back, not a gain or a loss. The drawdown's
    series is the bankroll plus the P&L to each day's end — the equity curve with the capital
    held where it was on the row's day: the rows' own equity counts each row's bankroll as set
    when it was written, and a lower bankroll read as a fall of equity. A past day's row
    closed again keeps its ratios on its own bankroll, not on one set since."""
    rows = await performance_queries.performance_series(conn, strategy, start)
    pnl = [Decimal(r["total_pnl"]) for r in rows]
    if rows and rows[-1]["bankroll"] is not None:
        bankroll = Decimal(rows[-1]["bankroll"])
    returns = [float(p / bankroll) for p in pnl]
    curve = [float(bankroll + p) for p in itertools.accumulate(pnl, initial=Decimal(0))]
    await performance_queries.set_performance_ratios(
        conn, strategy, start, sharpe_ratio(returns), max_drawdown(curve)
    )
