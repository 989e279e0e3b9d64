"""Positions from our own fills, through the one accounting implementation.

A position's numbers are never updated incrementally in SQL: every change replays the
position's fills (``orderflow_fills``) through :func:`orderflow.accounting.replay`, settled at the
market's payout when it resolves, and stores the result. The same code that scores wallets
therefore books the executor's P&L.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import asyncpg

from orderflow.accounting import Fill, Position, replay
from orderflow.execution import queries
from orderflow.execution.broker import FillReport

log = logging.getLogger(__name__)


async def load_position(conn: asyncpg.Connection, position_id: int) -> Position:
    fills = [
        Fill(
            side=r["side"],
            shares=r["shares"],
            usdc=r["usdc"],
            fee=r["fee"],
            fee_asset=r["fee_asset"],
            timestamp=r["filled_at"],
        )
        for r in await queries.position_fills(conn, position_id)
    ]
    return replay(fills)


async def book_fill(
    conn: asyncpg.Connection,
    *,
    order: asyncpg.Record,
    fill: FillReport,
    outcome_index: int | None,
) -> int:
    """Record one fill of an order and re-derive its position; returns the position id."""
    position_id = await queries.open_position_for(
        conn,
        strategy=order["strategy"],
        signal_id=order["signal_id"],
        token_id=int(order["token_id"]),
        market_id=order["market_id"],
        outcome_index=outcome_index,
    )
    await queries.insert_fill(
        conn,
        order_id=order["id"],
        position_id=position_id,
        strategy=order["strategy"],
        mode=order["mode"],
        token_id=int(order["token_id"]),
        side=order["side"],
        fill=fill,
    )
    position = await load_position(conn, position_id)
    exited = order["side"] == "SELL" and position.shares == 0
    await queries.store_position(
        conn, position_id, position, mark_price=fill.price, close_reason="exit" if exited else None
    )
    if exited:
        # Closed by selling (the leader's exit): the opening signal carries the P&L.
        opener = await queries.position_signal(conn, position_id)
        if opener is not None:
            await queries.set_signal_pnl(conn, opener, position.realized_pnl)
    return position_id


async def settle_resolved(conn: asyncpg.Connection) -> list[tuple[str, int, Decimal]]:
    """Close every open position whose market resolved; returns (strategy, id, realized P&L)."""
    settled: list[tuple[str, int, Decimal]] = []
    for row in await queries.resolvable_positions(conn):
        if row["payout"] is None:
            continue
        async with conn.transaction():
            position = await load_position(conn, row["id"])
            position.settle(Decimal(row["payout"]))
            await queries.store_position(conn, row["id"], position, close_reason="resolved")
            if row["signal_id"] is not None:
                await queries.set_signal_pnl(conn, row["signal_id"], position.realized_pnl)
        log.info(
            "position settled",
            extra={
                "strategy": row["strategy"],
                "position_id": row["id"],
                "realized_pnl": str(position.realized_pnl),
            },
        )
        settled.append((row["strategy"], row["id"], position.realized_pnl))
    return settled
