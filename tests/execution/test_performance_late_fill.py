"""A fill of a closed day booked after its close re-closes that day (and every later day whose
close did not see it).

A day's row was closed once, by the first maintenance pass after its end: a fill of that day
booked later — the live reconciliation books the fills of an outage from the account's trades,
with the exchange's times; a paper fill from a level stored late — stayed out of its row, and
out of the start mark of the days after it, for good (the daily loss, computed from history,
saw it; the series the Sharpe ratio and drawdown are made of did not). Now each fill booked
(and each reversal) counts in its day (migration 078), a closed row keeps the count it saw, and
a row whose count moved is closed again: the same row a close after the fill writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.execution import positions, trade_queries
from orderflow.execution.broker import FillReport
from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start, update_performance
from tests.execution.conftest import trade_at
from tests.execution.test_performance_days import BANKROLL, _bought_two_days_ago


def _comparable(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "updated_at"} for r in rows]


async def _rows(conn: asyncpg.Connection, before: datetime) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT * FROM orderflow_performance WHERE day < ($1 AT TIME ZONE 'UTC')::date"
            " ORDER BY day",
            before,
        )
    )


async def _closed_two_days(pool: asyncpg.Pool, ex: Executor) -> tuple[datetime, datetime, datetime]:
    """Bought two days ago at 10:00, a noon pass that day, the price at 0.60 before its
    midnight and 0.70 yesterday; today's pass closes both days."""
    today = day_start(datetime.now(UTC))
    first, second = today - timedelta(days=2), today - timedelta(days=1)
    await _bought_two_days_ago(pool, ex, first)
    async with pool.acquire() as conn:
        noon = first + timedelta(hours=12)
        await update_performance(conn, "alpha", BANKROLL, noon)
        await conn.execute("UPDATE orderflow_performance SET updated_at = $1", noon)
        await trade_at(conn, "0.60", first + timedelta(hours=23))
        await trade_at(conn, "0.70", second + timedelta(hours=12))
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
    return today, first, second


async def late_fill(conn: asyncpg.Connection, at: datetime) -> None:
    """Read late from the account's trades: 40 more shares of the first order bought at 0.55
    ``at``."""
    order = await conn.fetchrow("SELECT * FROM orderflow_orders ORDER BY id LIMIT 1")
    late = FillReport(
        fill_key="late-trade",
        shares=Decimal(40),
        usdc=Decimal(22),
        fee=Decimal(0),
        price=Decimal("0.55"),
        at=at,
    )
    await positions.book_fill(conn, order=order, fill=late, outcome_index=0)


async def _closed_afresh(conn: asyncpg.Connection, today: datetime, first: datetime) -> None:
    """The days closed again from nothing but the first day's noon row: what a close after
    everything booked writes."""
    await conn.execute(
        "DELETE FROM orderflow_performance WHERE day > ($1 AT TIME ZONE 'UTC')::date", first
    )
    await conn.execute("UPDATE orderflow_performance SET updated_at = $1", first)
    await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))


async def test_a_fill_of_a_closed_day_booked_later_closes_it_again(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    today, first, second = await _closed_two_days(pool, make_executor())
    async with pool.acquire() as conn:
        before = _comparable(await _rows(conn, today))
        await late_fill(conn, first + timedelta(hours=20))
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
        rows = await _rows(conn, today)
        stamps = [r["updated_at"] for r in rows]
        # Closed again once: a later pass leaves the rows as they are.
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
        assert [r["updated_at"] for r in await _rows(conn, today)] == stamps
        await _closed_afresh(conn, today, first)
        afresh = _comparable(await _rows(conn, today))
    assert [r["day"] for r in rows] == [first.date(), second.date()]
    assert _comparable(rows) == afresh
    assert _comparable(rows) != before
    # The 40 shares: +0.05 each by the first midnight, +0.10 each the next day.
    assert rows[0]["trades"] == before[0]["trades"] + 1 == 2
    assert rows[0]["total_pnl"] == before[0]["total_pnl"] + 40 * Decimal("0.05")
    assert rows[1]["total_pnl"] == before[1]["total_pnl"] + 40 * Decimal("0.10")


async def test_a_reversal_of_a_closed_day_s_fill_closes_it_again(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The chain took the day's fill back after the day was closed (its trade FAILED): the day
    never had it."""
    today, first, _ = await _closed_two_days(pool, make_executor())
    async with pool.acquire() as conn:
        fill = await conn.fetchrow("SELECT * FROM orderflow_fills ORDER BY id LIMIT 1")
        assert await trade_queries.insert_reversal(
            conn,
            int(fill["id"]),
            "t:reversal",
            fill["shares"],
            fill["usdc"],
            fill["fee"],
            datetime.now(UTC),
        )
        await positions.restate_position(conn, int(fill["position_id"]))
        await update_performance(conn, "alpha", BANKROLL, datetime.now(UTC))
        rows = await _rows(conn, today)
        await _closed_afresh(conn, today, first)
        afresh = _comparable(await _rows(conn, today))
    assert _comparable(rows) == afresh
    assert [(r["trades"], r["total_pnl"], r["equity"]) for r in rows] == [
        (0, 0, BANKROLL),
        (0, 0, BANKROLL),
    ]
