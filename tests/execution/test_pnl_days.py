"""The day boundary and old marks as an accountant checks them (an audit, 6 Dec 2026; each
passes on the tree it was written on).

A position bought yesterday counts today from midnight's mark, not from its cost: its market
resolving against it today loses today what it was worth at midnight, in the daily loss limit,
in today's performance row and after its settlement alike. A position whose token has not
traded for days is marked at its last price, however old (docs/executor.md "Limits"), moves
nothing today while nothing trades, and moves with its complement's trades (the unified book's
mirror) when only the other outcome trades."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.book import load_book
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    add_trade,
    resolve,
    trade_at,
)
from tests.execution.test_daily_loss import _entered, _replay

BANKROLL = Decimal(10_000)


async def _bought(pool: asyncpg.Pool, ex: Executor, position_id: int, at: datetime) -> None:
    """The position is 100 shares bought at 0.50 (cost 50, no fee) at ``at``, the market's
    trades of the entry (and the paper match of its level) moved there too."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE orderflow_trades SET timestamp = $1", at)
        await conn.execute("UPDATE orderflow_paper_matches SET level_time = $1", at)
        await conn.execute(
            "UPDATE orderflow_fills SET shares = 100, usdc = 50, fee = 0, price = 0.5,"
            " filled_at = $1",
            at,
        )
        await _replay(conn, position_id)


async def test_a_position_bought_yesterday_loses_today_its_midnight_value(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Bought yesterday for 50, worth 70 at midnight (+20); the market resolves NO today: today
    lost 70 (not the 50 it cost) — the daily loss limit (10) refuses the next entry, and
    today's row says -70, realized -50, before and after the settlement."""
    midnight = day_start(datetime.now(UTC))
    ex, position_id = await _entered(pool, make_executor, (TOKEN_NO, MARKET_B, 1))
    await _bought(pool, ex, position_id, midnight - timedelta(hours=3))
    async with pool.acquire() as conn:
        await trade_at(conn, "0.70", midnight - timedelta(hours=1))
        now = datetime.now(UTC)
        assert await DayMarks().day_pnl(conn, "alpha", midnight) == 0
        await resolve(conn, MARKET, ["0", "1"])
        book = await load_book(conn, ex.registry.states["alpha"], now)
        assert book.day_pnl == Decimal(-70)
        await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.40")
    await ex.catch_up()
    reason = await pool.fetchval(
        "SELECT reason FROM orderflow_signals WHERE token_id = $1", Decimal(TOKEN_NO)
    )
    assert reason == "daily_loss_limit"
    await ex.maintenance()  # settles the position at 0
    pos = await pool.fetchrow("SELECT status, realized_pnl FROM orderflow_positions")
    assert (pos["status"], pos["realized_pnl"]) == ("CLOSED", Decimal(-50))
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["alpha"], datetime.now(UTC))
    assert book.day_pnl == Decimal(-70)
    row = await pool.fetchrow("SELECT * FROM orderflow_performance WHERE day = $1", midnight.date())
    assert (row["total_pnl"], row["realized_pnl"], row["unrealized_pnl"]) == (-70, -50, 0)
    assert row["equity"] == BANKROLL - 50


async def test_a_token_not_traded_for_days_keeps_its_last_price(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Bought three days ago at 0.50, the token's last trade then at 0.60 and nothing since:
    marked at 0.60 (+10), of which nothing is today's. The other outcome then trades at 0.25
    today: YES is marked at 0.75 through the unified book, +15 today."""
    midnight = day_start(datetime.now(UTC))
    ex, position_id = await _entered(pool, make_executor, (TOKEN_NO, MARKET, 1))
    long_ago = midnight - timedelta(days=3)
    await _bought(pool, ex, position_id, long_ago)
    async with pool.acquire() as conn:
        for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(token),
                Decimal(other),
            )
        await trade_at(conn, "0.60", long_ago + timedelta(hours=1))
        state = ex.registry.states["alpha"]
        book = await load_book(conn, state, datetime.now(UTC))
        assert book.open_positions[TOKEN_YES].unrealized_pnl == Decimal(10)
        assert book.day_pnl == 0
        await trade_at(conn, "0.25", datetime.now(UTC), token_id=TOKEN_NO)
        book = await load_book(conn, state, datetime.now(UTC))
    assert book.open_positions[TOKEN_YES].unrealized_pnl == Decimal(25)
    assert book.day_pnl == Decimal(15)
