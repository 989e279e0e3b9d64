"""A past day's row closed again keeps the bankroll of its day.

A closed day's row is written again when a fill of it, or of a day before it, is booked or
reversed later (tests/execution/test_performance_late_fill.py). Its equity and its ratios were
then taken on the bankroll set *now*: the operator lowering ``bankroll_usd`` from 10,000 to
5,000 today moved yesterday's equity down by 5,000 and its drawdown to a fraction of the smaller
capital, though neither the day nor its capital had changed — only one late fill of the day
before it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.performance import update_performance
from tests.execution.test_performance_days import BANKROLL
from tests.execution.test_performance_late_fill import late_fill
from tests.execution.test_pnl_performance import _days, _marked_over_two_days

LOWERED = Decimal(5_000)


async def test_a_past_day_closed_again_keeps_its_bankroll(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Up the first day (0.60 at its midnight), down the next (0.40), both days closed on a
    bankroll of 10,000. Today the operator lowers it to 5,000, and a fill of the first day
    (40 shares at 0.55, 20:00) is booked late: both days are closed again, each with the
    10,000 it had — equity 10,000 + its P&L to date, drawdown a fraction of 10,000 plus the
    peak — and today's row alone on 5,000."""
    today, first, second = _days()
    await _marked_over_two_days(pool, make_executor(), "0.40")
    async with pool.acquire() as conn:
        await late_fill(conn, first + timedelta(hours=20))
        await update_performance(conn, "alpha", LOWERED, datetime.now(UTC))
        rows = {
            r["day"]: r
            for r in await conn.fetch("SELECT * FROM orderflow_performance ORDER BY day")
        }
    up, down = rows[first.date()]["total_pnl"], rows[second.date()]["total_pnl"]
    assert rows[first.date()]["equity"] == BANKROLL + up
    assert rows[second.date()]["equity"] == BANKROLL + up + down
    assert rows[second.date()]["max_drawdown"] == pytest.approx(float(-down / (BANKROLL + up)))
    assert rows[today.date()]["equity"] == LOWERED + up + down
    assert rows[today.date()]["max_drawdown"] == pytest.approx(float(-down / (LOWERED + up)))
