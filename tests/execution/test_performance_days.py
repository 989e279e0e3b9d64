"""A day's performance row is closed after its end from the stored fills and marks, the days the
executor missed included.

The row of a day was written by the maintenance passes of that day only: the executor down
across midnight (or its last pass minutes before it) left the row where its last pass stopped,
and a day it was down for whole had no row — the daily Sharpe ratio and the drawdown made from
the series were wrong. Now the first pass after a day's end closes it (and writes each day
missed since): its P&L the change, from 00:00 to 24:00 UTC, of its positions' value (their fills
before each instant replayed, marked at the last trade before it or at their payout), its
equity at 24:00."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start, update_performance
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_wallet,
    fill_resting,
    follow,
    resolve,
    trade_at,
)

BANKROLL = Decimal(10_000)


async def _rows(pool: asyncpg.Pool) -> dict[date, asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM orderflow_performance ORDER BY day")
    return {r["day"]: r for r in rows}


async def _bought_two_days_ago(
    pool: asyncpg.Pool, ex: Executor, first: datetime
) -> tuple[Decimal, Decimal]:
    """The whale's buy of YES followed and filled, all of it moved to 10:00 UTC on ``first``:
    the position's shares and cost."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)
    await follow(pool, ex, price="0.50")
    assert await fill_resting(pool, ex) == 1
    bought = first + timedelta(hours=10)
    async with pool.acquire() as conn:
        await conn.execute("UPDATE orderflow_trades SET timestamp = $1", bought)
        await conn.execute("UPDATE orderflow_paper_matches SET level_time = $1", bought)
        await conn.execute("UPDATE orderflow_fills SET filled_at = $1", bought)
        await conn.execute("UPDATE orderflow_positions SET opened_at = $1", bought)
        position = await conn.fetchrow("SELECT shares, cost_basis FROM orderflow_positions")
    return position["shares"], position["cost_basis"]


async def test_days_missed_across_midnight_are_closed_from_history(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    today = day_start(datetime.now(UTC))
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    shares, cost = await _bought_two_days_ago(pool, make_executor(), first)
    async with pool.acquire() as conn:
        # The executor's last pass of that day, at noon ...
        noon = first + timedelta(hours=12)
        await update_performance(conn, "alpha", BANKROLL, noon)
        await conn.execute("UPDATE orderflow_performance SET updated_at = $1", noon)
        noon_pnl = await conn.fetchval("SELECT total_pnl FROM orderflow_performance")
        # ... then it was down: the price moved to 0.60 before midnight, to 0.70 the next day.
        await trade_at(conn, "0.60", first + timedelta(hours=23))
        await trade_at(conn, "0.70", second + timedelta(hours=12))
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))  # back up today
    rows = await _rows(pool)
    assert sorted(rows) == [first.date(), second.date(), today.date()], sorted(rows)
    day1, day2, day3 = (rows[d.date()] for d in (first, second, today))
    assert noon_pnl == shares * Decimal("0.51") - cost  # the last trade at noon: the fill's
    assert day1["total_pnl"] == shares * Decimal("0.60") - cost  # midnight's mark, not noon's
    assert day1["trades"] == 1 and day1["realized_pnl"] == 0
    assert day1["equity"] == BANKROLL + shares * Decimal("0.60") - cost
    assert day2["total_pnl"] == shares * Decimal("0.10") and day2["trades"] == 0
    assert day2["equity"] == BANKROLL + shares * Decimal("0.70") - cost
    assert day2["unrealized_pnl"] == shares * Decimal("0.70") - cost
    assert day3["total_pnl"] == 0
    # The ratios of today's row are made from the three days.
    returns = [float(r["total_pnl"]) / float(BANKROLL) for r in (day1, day2, day3)]
    assert day3["sharpe_ratio"] is not None and returns[1] > 0
    # Closed once: a pass later today leaves the closed days as they are.
    async with pool.acquire() as conn:
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
    again = await _rows(pool)
    assert [again[d]["updated_at"] for d in sorted(again)][:2] == [
        rows[d]["updated_at"] for d in sorted(rows)
    ][:2]


async def test_a_resolution_of_a_missed_day_is_that_day_s_not_the_settlement_s(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The market resolved YES on the day the executor missed; the position is settled only when
    it is back, today: the payout is the missed day's P&L, today's is 0."""
    today = day_start(datetime.now(UTC))
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    ex = make_executor()
    shares, cost = await _bought_two_days_ago(pool, ex, first)
    async with pool.acquire() as conn:
        noon = first + timedelta(hours=12)
        await update_performance(conn, "alpha", BANKROLL, noon)
        await conn.execute("UPDATE orderflow_performance SET updated_at = $1", noon)
        await resolve(conn, MARKET, ["1", "0"])
        resolved_at = second + timedelta(hours=6)
        await conn.execute("UPDATE orderflow_market_outcomes SET resolved_at = $1", resolved_at)
    await ex.maintenance()  # back up today: settles the position and writes the rows
    position = await pool.fetchrow("SELECT status, realized_pnl FROM orderflow_positions")
    assert position["status"] == "CLOSED" and position["realized_pnl"] == shares - cost
    rows = await _rows(pool)
    day1, day2, day3 = (rows[d.date()] for d in (first, second, today))
    assert day1["total_pnl"] == shares * Decimal("0.51") - cost  # the fill's price: no trade since
    assert day2["total_pnl"] == shares * (1 - Decimal("0.51"))  # the payout, that day
    assert day2["equity"] == BANKROLL + shares - cost
    # Realized today, when settled; its value was the missed day's.
    assert (day3["total_pnl"], day3["realized_pnl"]) == (0, shares - cost)
    assert day2["realized_pnl"] == 0
    assert day3["equity"] == BANKROLL + shares - cost and day3["wins"] == 1
