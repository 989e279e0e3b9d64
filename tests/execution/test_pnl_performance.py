"""The performance table as an accountant reads it (an audit, 6 Dec 2026): each row's equity is
bankroll + all realized + the unrealized P&L of its day's end, the same marks its ``total_pnl``
is made of, and the equity curve moves by each day's P&L; the maximum drawdown is a fall of
P&L, not a change of the capital the strategy is given.

Before, today's row took its unrealized P&L and equity from the marks stored on the positions
(``orderflow_positions.unrealized_pnl``: a fill stores its own price, the next maintenance
pass the tape's), while its ``total_pnl`` read the tape: in the pass that booked a fill the row
said a total of -44.02 beside an unrealized 0.00 and an equity of 10,000. And the drawdown was
measured on the equity series as written, each row with the bankroll set when it was written:
lowering ``bankroll_usd`` from 10,000 to 5,000 read as a drawdown of 50.6 % where 80.03 was
lost. And a sale of 23:59:59 booked after midnight was won on the day it was booked, which
realized nothing, not on the day of its P&L."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start, max_drawdown, update_performance
from orderflow.execution.position_queries import mark_open_positions
from tests.execution.conftest import reveal, trade_at
from tests.execution.paperkit import exit_resting, whale_buys
from tests.execution.test_performance_days import BANKROLL, _bought_two_days_ago


async def _rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch("SELECT * FROM orderflow_performance ORDER BY day"))


def _comparable(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]


def _days() -> tuple[datetime, datetime, datetime]:
    """Today's start, and the two days before it."""
    today = day_start(datetime.now(UTC))
    return today, today - timedelta(days=2), today - timedelta(days=1)


async def _marked_over_two_days(
    pool: asyncpg.Pool, ex: Executor, yesterday: str
) -> tuple[Decimal, Decimal]:
    """Bought two days ago (that day's row written, then closed), marked 0.60 at its midnight
    and ``yesterday`` the next day; today's row written after a maintenance mark (as the
    executor's pass does). The position's shares and cost."""
    _, first, second = _days()
    shares, cost = await _bought_two_days_ago(pool, ex, first)
    async with pool.acquire() as conn:
        await update_performance(conn, "alpha", BANKROLL, first + timedelta(hours=12))
        await conn.execute("UPDATE orderflow_performance SET updated_at = $1", first)
        await trade_at(conn, "0.60", first + timedelta(hours=23))
        await trade_at(conn, yesterday, second + timedelta(hours=12))
        await mark_open_positions(conn)
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
    return shares, cost


async def test_todays_row_is_marked_where_its_total_is(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The market trades at 0.40 and a seller at 0.45 fills our resting bid at its 0.51 (as
    maker: no fee). The pass that books the fill writes a row whose unrealized P&L is the
    position's at 0.40 — its total, the position being today's — and whose equity is the
    bankroll plus it (before: unrealized 0.00 at the fill's own price, equity 10,000.00, beside a
    total of -44.0176)."""
    ex = make_executor()
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    async with pool.acquire() as conn:
        await trade_at(conn, "0.40", datetime.now(UTC) - timedelta(seconds=2))
        await reveal(conn, met="SELL", price="0.45", shares="1000")
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT shares, cost_basis, status FROM orderflow_positions")
    assert pos["status"] == "OPEN"
    unrealized = pos["shares"] * Decimal("0.40") - pos["cost_basis"]
    (row,) = await _rows(pool)
    assert (row["total_pnl"], row["unrealized_pnl"], row["equity"]) == (
        unrealized,
        unrealized,
        BANKROLL + unrealized,
    )
    assert unrealized == Decimal("-44.0176")


async def test_the_equity_curve_moves_by_each_days_pnl_and_recomputes_the_same(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Bought two days ago, marked 0.60 at its midnight and 0.70 yesterday; today's row is
    written after a maintenance mark (as the executor's pass does). Each row's equity is the
    one before it plus its day's P&L, today's included, and the rows closed again from nothing
    but the first day's are the same rows (idempotent)."""
    today, first, second = _days()
    shares, cost = await _marked_over_two_days(pool, make_executor(), "0.70")
    rows = await _rows(pool)
    assert [r["day"] for r in rows] == [first.date(), second.date(), today.date()]
    assert rows[0]["equity"] == BANKROLL + rows[0]["total_pnl"]
    for before, row in itertools.pairwise(rows):
        assert row["equity"] - before["equity"] == row["total_pnl"], row["day"]
    assert rows[-1]["equity"] == BANKROLL + shares * Decimal("0.70") - cost
    async with pool.acquire() as conn:
        await conn.execute(
            "DELETE FROM orderflow_performance WHERE day > ($1 AT TIME ZONE 'UTC')::date", first
        )
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
    assert _comparable(await _rows(pool)) == _comparable(rows)


async def test_a_lower_bankroll_is_no_drawdown(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Up 36.01 the first day, down 80.03 the next (0.60, then 0.40): the drawdown is that fall
    from the peak. The operator then lowers ``bankroll_usd`` from 10,000 to 5,000 — capital
    taken out, nothing lost: the drawdown is the same fall from the same peak of P&L, on the
    capital the strategy has now (before: 0.5062, the bankroll's cut read as a loss)."""
    today, first, second = _days()
    shares, _ = await _marked_over_two_days(pool, make_executor(), "0.40")
    async with pool.acquire() as conn:
        kept = await conn.fetchval(
            "SELECT max_drawdown FROM orderflow_performance WHERE day = $1", today.date()
        )
        lowered = Decimal(5_000)
        await update_performance(conn, "alpha", lowered, datetime.now(UTC))
        rows = await conn.fetch("SELECT day, total_pnl, max_drawdown FROM orderflow_performance")
    by_day: dict[date, asyncpg.Record] = {r["day"]: r for r in rows}
    up, down = by_day[first.date()]["total_pnl"], by_day[second.date()]["total_pnl"]
    assert (up, down) == (shares * Decimal("0.09"), -shares * Decimal("0.20"))
    assert kept == pytest.approx(float(-down / (BANKROLL + up)))
    now = by_day[today.date()]["max_drawdown"]
    assert now == max_drawdown([float(lowered + p) for p in (0, up, up + down, up + down)])
    assert now == pytest.approx(float(-down / (lowered + up)))


async def test_a_sale_before_midnight_booked_after_it_is_won_on_its_day(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Our exit sold the whole position a second before midnight and the sale was booked just
    after it (the next reconciliation; after an outage, hours later). Its realized P&L is that
    day's (the sale's) and so is the win: before, the win was counted on the day the sale was
    booked — a day that realized nothing — and the day that made the money had none."""
    ex = make_executor()
    sell = await exit_resting(pool, ex)
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price=str(sell["price"]), shares=str(sell["shares"]))
    await ex.desk.reconcile()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "exit") and pos["realized_pnl"] > 0
    today = day_start(datetime.now(UTC))
    yesterday = today - timedelta(days=1)
    sold_at = today - timedelta(seconds=1)
    async with pool.acquire() as conn:  # bought yesterday at noon, sold at 23:59:59
        await conn.execute(
            "UPDATE orderflow_fills SET filled_at = CASE side WHEN 'BUY' THEN $1::timestamptz"
            " ELSE $2::timestamptz END",
            yesterday + timedelta(hours=12),
            sold_at,
        )
        await conn.execute("UPDATE orderflow_positions SET opened_at = $1", yesterday)
        await update_performance(conn, "alpha", BANKROLL, yesterday + timedelta(hours=13))
        await conn.execute("UPDATE orderflow_performance SET updated_at = $1", yesterday)
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
    rows = {r["day"]: r for r in await _rows(pool)}
    before, now = rows[yesterday.date()], rows[today.date()]
    assert (before["realized_pnl"], before["wins"], before["losses"]) == (
        pos["realized_pnl"],
        1,
        0,
    )
    assert (now["realized_pnl"], now["total_pnl"], now["wins"], now["losses"]) == (0, 0, 0, 0)
