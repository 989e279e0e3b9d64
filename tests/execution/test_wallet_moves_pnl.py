"""Shares that left the wallet (``orderflow_wallet_moves``, :mod:`orderflow.execution.
wallet_shares`) in the P&L: replayed with the position's fills as a sale for nothing after the
fill they were booked after — by the position, and by midnight's mark, so that a move of an
earlier day is no loss today."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start
from orderflow.execution.position_queries import store_position
from orderflow.execution.positions import load_position
from tests.execution.conftest import TOKEN_YES, trade_at
from tests.execution.test_daily_loss import _entered


async def _moved(conn: asyncpg.Connection, position_id: int, shares: int, at: datetime) -> None:
    fill_id = await conn.fetchval(
        "SELECT max(id) FROM orderflow_fills WHERE position_id = $1", position_id
    )
    await conn.execute(
        "INSERT INTO orderflow_wallet_moves (position_id, strategy, token_id, shares, cost,"
        " books, wallet, after_fill_id, created_at) VALUES ($1, 'alpha', $2, $3, $4, 100, 60,"
        " $5, $6)",
        position_id, Decimal(TOKEN_YES), shares, Decimal(shares) / 2, fill_id, at,
    )  # fmt: skip
    await store_position(conn, position_id, await load_position(conn, position_id))


async def test_a_move_of_yesterday_is_no_loss_today(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """100 shares bought at 0.50 before midnight, 40 of them left the wallet before midnight,
    the price 0.70 then and now: the position realized -20 (the 40's cost) and holds 60 (cost
    30); today nothing happened. Midnight's mark without the move said +20 on 100 shares, and
    today's P&L read -28."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orderflow_fills SET shares = 100, usdc = 50, fee = 0, filled_at = $1",
            midnight - timedelta(hours=3),
        )
        await _moved(conn, position_id, 40, midnight - timedelta(hours=2))
        pos = await conn.fetchrow(
            "SELECT shares, cost_basis, realized_pnl FROM orderflow_positions"
        )
        assert pos is not None and tuple(pos) == (60, 30, -20)
        await trade_at(conn, "0.70", midnight - timedelta(hours=1))
        await trade_at(conn, "0.70", now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
    assert book.day_pnl == 0


async def test_a_move_today_is_todays_loss(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The same 40 shares leaving the wallet today: their cost, 20, is today's loss."""
    now = datetime.now(UTC)
    midnight = day_start(now)
    ex, position_id = await _entered(pool, make_executor)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orderflow_fills SET shares = 100, usdc = 50, fee = 0, filled_at = $1",
            midnight - timedelta(hours=3),
        )
        await trade_at(conn, "0.70", midnight - timedelta(hours=1))
        await trade_at(conn, "0.70", now)
        await _moved(conn, position_id, 40, now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
    assert book.day_pnl == -20 - 40 * Decimal("0.20")  # the cost, and the 40's gain since
