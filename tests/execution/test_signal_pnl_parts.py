"""A signal's P&L is all its positions made, restated whole at every change of one of them
(``positions.restate_signal_pnl``): each closed position it owns, less the parts earlier owners
had, and its part of each position a later entry took over from it. Booked through the
executor's own ``book_fill`` and ``restate_position``, as the desk and the trade settlement do.

Before 6 Dec 2026 each writer wrote its own piece over the signal's P&L: a takeover wrote the
taken-over part alone (a first position's +0.60 read 0.00), and a failed exit that reopened a
second position wrote none at all (the first position's +0.60 read None)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.execution import order_queries, trade_queries
from orderflow.execution.broker import FillReport
from orderflow.execution.positions import book_fill, restate_position
from tests.execution.conftest import MARKET, TOKEN_YES, WHALE, add_strategy, add_token, tx


async def _signal(conn: asyncpg.Connection, side: str) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO orderflow_signals (strategy, signal_type, status, chain_id, tx_hash,"
            " log_index, wallet_address, token_id, market_id, outcome_index, side, trigger_price,"
            " trade_time) VALUES ('alpha', 'FOLLOW_WHALE', 'PENDING', 137, $1, 0, $2, $3, $4, 0,"
            " $5, 0.50, now()) RETURNING id",
            tx(),
            WHALE,
            Decimal(TOKEN_YES),
            MARKET,
            side,
        )
    )


async def _order(conn: asyncpg.Connection, signal_id: int, side: str, mode: str) -> int:
    return int(
        await conn.fetchval(
            "INSERT INTO orderflow_orders (strategy, signal_id, mode, client_order_id, token_id,"
            " market_id, side, price, shares, status) VALUES ('alpha', $1, $2, $3, $4, $5,"
            " $6, 0.50, 100, 'OPEN') RETURNING id",
            signal_id,
            mode,
            tx(),
            Decimal(TOKEN_YES),
            MARKET,
            side,
        )
    )


async def _fill(conn: asyncpg.Connection, order_id: int, key: str, shares: str, price: str) -> int:
    row = await order_queries.order_row(conn, order_id)
    n, p = Decimal(shares), Decimal(price)
    fill = FillReport(key, n, n * p, Decimal(0), p, datetime.now(UTC))
    return await book_fill(conn, order=row, fill=fill, outcome_index=0)


async def _pnl(conn: asyncpg.Connection, signal_id: int) -> Decimal | None:
    pnl: Decimal | None = await conn.fetchval(
        "SELECT pnl FROM orderflow_signals WHERE id = $1", signal_id
    )
    return pnl


async def test_a_dust_takeover_keeps_the_earlier_signal_s_closed_position(
    pool: asyncpg.Pool,
) -> None:
    """The entry's first position closed at +0.60; the rest of the entry, filled late, opened
    a second position of 3 shares (dust: under the market's minimum, held to the resolution),
    which a new leader's entry took over (dust does not refuse an entry: test_dust_entry.py).
    The first signal keeps its +0.60 and its part of the dust (nothing realized yet)."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        first = await _signal(conn, "BUY")
        entry = await _order(conn, first, "BUY", "paper")
        exit_order = await _order(conn, await _signal(conn, "SELL"), "SELL", "paper")

        p1 = await _fill(conn, entry, "t1", "6", "0.50")
        assert await _fill(conn, exit_order, "t2", "6", "0.60") == p1
        assert await _pnl(conn, first) == Decimal("0.6")
        p2 = await _fill(conn, entry, "t3", "3", "0.50")
        assert p2 != p1

        second = await _signal(conn, "BUY")
        taken = await _fill(conn, await _order(conn, second, "BUY", "paper"), "t4", "10", "0.50")
        assert taken == p2
        assert await _pnl(conn, first) == Decimal("0.6")
        assert await _pnl(conn, second) is None  # its position is open


async def test_a_failed_exit_of_the_second_position_keeps_the_first_s_pnl(
    pool: asyncpg.Pool,
) -> None:
    """The first position: 6 shares bought at 0.50, sold at 0.60 (+0.60); the entry's rest,
    filled afterwards, a second position sold at 0.55 (+0.50). The second exit's trade FAILS on
    chain: its position is open again, and the signal loses the P&L of the exit that did not
    happen, not the first position's."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        entry_signal = await _signal(conn, "BUY")
        entry = await _order(conn, entry_signal, "BUY", "live")
        first_exit = await _order(conn, await _signal(conn, "SELL"), "SELL", "live")
        second_exit = await _order(conn, await _signal(conn, "SELL"), "SELL", "live")

        p1 = await _fill(conn, entry, "t1", "6", "0.50")
        await _fill(conn, first_exit, "t2", "6", "0.60")
        p2 = await _fill(conn, entry, "t3", "10", "0.50")
        assert p2 != p1
        await _fill(conn, second_exit, "t4", "10", "0.55")
        assert await _pnl(conn, entry_signal) == Decimal("1.1")

        sell = await conn.fetchrow("SELECT * FROM orderflow_fills WHERE fill_key = 't4'")
        assert await trade_queries.insert_reversal(
            conn,
            sell["id"],
            "t4:reversal",
            sell["shares"],
            sell["usdc"],
            sell["fee"],
            datetime.now(UTC),
        )
        await restate_position(conn, p2)
        status = await conn.fetchval("SELECT status FROM orderflow_positions WHERE id = $1", p2)
        assert status == "OPEN"
        assert await _pnl(conn, entry_signal) == Decimal("0.6")
