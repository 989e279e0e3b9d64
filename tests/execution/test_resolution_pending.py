"""A position is settled at its market's resolution only once no order of it can still fill.

Fills reach the book late (an order resting on the paper exchange is matched at the next pass, a
live order's fill is read from the account's trades, an exchange down holds both up): a fill of
our exit can be booked after the market's resolution is stored. Settling the position first paid
out shares it had already sold, and the sale's fill, with no position left open, became a sell of
shares from outside the book (its proceeds no part of any P&L).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.book import load_book
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.engine import Executor
from orderflow.execution.performance import day_start
from orderflow.execution.settlement import LATE_FILLS
from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    resolve,
    reveal,
)
from tests.execution.paperkit import clocked_executor, exit_resting


async def test_an_exit_filled_before_the_resolution_is_booked_before_it_settles(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Our exit's bid shows up, then the market resolves NO (YES pays 0), both before the next
    maintenance tick: the position is closed by its sale at 0.59, not settled at 0 with the
    sale's proceeds lost."""
    ex = make_executor()
    sell = await exit_resting(pool, ex)
    async with pool.acquire() as conn:
        await reveal(
            conn,
            met="SELL",
            price=str(sell["price"]),
            shares=str(sell["shares"]),
            at=datetime.now(UTC) - timedelta(milliseconds=1),
        )
        await resolve(conn, MARKET, ["0", "1"])
    await ex.maintenance()
    await ex.maintenance()  # a later tick settles nothing more
    rows = await pool.fetch("SELECT * FROM orderflow_positions ORDER BY id")
    buy, sold = await pool.fetch("SELECT side, shares, usdc, fee FROM orderflow_fills ORDER BY id")
    assert sold["side"] == "SELL" and sold["shares"] == buy["shares"]
    expected = (sold["usdc"] - sold["fee"]) - (buy["usdc"] + buy["fee"])
    assert [(r["status"], r["close_reason"], r["realized_pnl"]) for r in rows] == [
        ("CLOSED", "exit", expected)
    ]
    assert expected > 0
    pnl = await pool.fetchval(
        "SELECT s.pnl FROM orderflow_signals s JOIN orderflow_positions p ON p.signal_id = s.id"
    )
    assert pnl == expected


async def test_a_position_whose_exit_still_rests_settles_once_the_exit_closes(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The market resolves YES while our exit rests unfilled (its life an hour): the paper
    exchange cancels it, as the real CLOB cancels what rests on a resolved market; the position
    stays open while a fill of the exit from before the resolution may still be read, and is
    settled at 1 a share once that window is over."""
    ex, clock = clocked_executor(pool, dsn)
    sell = await exit_resting(pool, ex, orderTtlSecs=3600)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    order = await pool.fetchrow("SELECT status FROM orderflow_orders WHERE id = $1", sell["id"])
    assert order["status"] == "CANCELED"
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "OPEN"
    clock.offset = LATE_FILLS + timedelta(minutes=1)
    # The window is over once a pass has read the exit's fills LATE_FILLS after its close (this
    # tick's reconciliation, after its settlement: orderflow.execution.fill_watermark) ...
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "OPEN"
    await ex.maintenance()  # ... and the next tick settles
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    buy = await pool.fetchrow("SELECT shares, usdc, fee FROM orderflow_fills")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    assert pos["realized_pnl"] == buy["shares"] * Decimal(1) - buy["usdc"] - buy["fee"]


async def test_a_position_waiting_for_its_settlement_is_marked_at_its_payout(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """While its exit may still fill, a position of a market resolved NO is marked at 0 (its
    payout), not at the token's last trade before the resolution: the daily loss and the
    performance rows see the loss at once."""
    ex, clock = clocked_executor(pool, dsn)
    await exit_resting(pool, ex)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["0", "1"])
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["status"] == "OPEN"
    assert (pos["mark_price"], pos["unrealized_pnl"]) == (0, -pos["cost_basis"])
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["alpha"], clock())
        today = await DayMarks().day_pnl(conn, "alpha", day_start(clock()))
    assert book.open_positions[TOKEN_YES].unrealized_pnl == -pos["cost_basis"]
    assert today == -pos["cost_basis"]  # opened today: its whole cost is today's loss
