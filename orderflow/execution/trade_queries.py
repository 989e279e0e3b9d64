"""The SQL of trade settlement: the trades of booked live fills (``orderflow_fill_trades``), the
reversal of a fill whose trade failed on chain, and what a reversal changes in the order, the
position and the signal (migration 015)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.broker import FillReport
from orderflow.execution.late_fill_queries import closed_at

FINAL = ("CONFIRMED", "FAILED")


async def record_trades(conn: asyncpg.Connection, order_id: int, fill: FillReport) -> None:
    """One row per trade id of a booked live fill (its status as reported, else MATCHED; our
    part of the trade when the fill is that one trade as the trades endpoint reported it)."""
    trade_ids = fill.fill_key.split(",")
    status = fill.trade_status or "MATCHED"
    known = fill.trade_status is not None and len(trade_ids) == 1
    await conn.execute(
        """
        INSERT INTO orderflow_fill_trades (order_id, trade_id, fill_id, status, shares, usdc, fee,
            final_at)
        SELECT $1, t.id, f.id, $3, $4, $5, $6,
               CASE WHEN $3 = ANY($8::text[]) THEN clock_timestamp() END
          FROM orderflow_fills f, unnest($2::text[]) AS t (id)
         WHERE f.order_id = $1 AND f.fill_key = $7
        ON CONFLICT (order_id, trade_id) DO NOTHING
        """,
        order_id,
        trade_ids,
        status,
        fill.shares if known else None,
        fill.usdc if known else None,
        fill.fee if known else None,
        fill.fill_key,
        list(FINAL),
    )


async def give_up(conn: asyncpg.Connection, booked_before: datetime) -> list[asyncpg.Record]:
    """Trades still not final past the settlement horizon: no longer asked about."""
    return list(
        await conn.fetch(
            "UPDATE orderflow_fill_trades SET gave_up_at = clock_timestamp()"
            " WHERE final_at IS NULL AND gave_up_at IS NULL AND booked_at < $1"
            " RETURNING order_id, trade_id, status",
            booked_before,
        )
    )


async def pending_trades(
    conn: asyncpg.Connection, booked_since: datetime, strategy: str | None = None
) -> list[asyncpg.Record]:
    """Trades of booked live fills whose settlement is not final yet, with their order's ids."""
    return list(
        await conn.fetch(
            """
            SELECT t.order_id, t.trade_id, t.fill_id, t.status, t.shares, t.usdc, t.fee,
                   o.mode, o.strategy, o.exchange_order_id, o.candidate_order_ids
              FROM orderflow_fill_trades t JOIN orderflow_orders o ON o.id = t.order_id
             WHERE t.final_at IS NULL AND t.gave_up_at IS NULL AND t.booked_at >= $1
               AND ($2::text IS NULL OR o.strategy = $2)
             ORDER BY t.order_id, t.trade_id
            """,
            booked_since,
            strategy,
        )
    )


async def set_trade_status(
    conn: asyncpg.Connection,
    order_id: int,
    trade_id: str,
    status: str,
    part: tuple[Decimal, Decimal, Decimal] | None,
) -> None:
    shares, usdc, fee = part if part is not None else (None, None, None)
    await conn.execute(
        """
        UPDATE orderflow_fill_trades SET status = $3, shares = COALESCE($4, shares),
               usdc = COALESCE($5, usdc), fee = COALESCE($6, fee), updated_at = clock_timestamp(),
               final_at = CASE WHEN $3 = ANY($7::text[]) THEN clock_timestamp() END
         WHERE order_id = $1 AND trade_id = $2
        """,
        order_id,
        trade_id,
        status,
        shares,
        usdc,
        fee,
        list(FINAL),
    )


async def net_fill(conn: asyncpg.Connection, fill_id: int) -> asyncpg.Record | None:
    """The fill net of its reversals (None: reversed in full)."""
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM orderflow_net_fills WHERE id = $1", fill_id
    )
    return row


async def all_trades_failed(conn: asyncpg.Connection, fill_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT bool_and(status = 'FAILED') FROM orderflow_fill_trades WHERE fill_id = $1",
            fill_id,
        )
    )


async def insert_reversal(
    conn: asyncpg.Connection,
    fill_id: int,
    fill_key: str,
    shares: Decimal,
    usdc: Decimal,
    fee: Decimal,
    now: datetime,
) -> bool:
    """Book the reversal of (part of) a fill, once: the UNIQUE (order_id, fill_key) key; on a
    first booking the order's filled amounts go down by the same amounts. What the exchange
    said matched of it (``matched_shares``, migration 089) is left as it said: the failed
    trade is listed, and what is matched but not listed is taken net of reversals
    (:func:`~orderflow.execution.late_fill_queries.matched_unlisted_shares`; its
    ``size_matched`` still counts the failed match, and taken again at the close it was counted
    as sold unlisted until 7 Dec 2026, session 45). A closed order's late-fill window starts
    again at ``now``, the executor's clock (:func:`~orderflow.execution.late_fill_queries.
    closed_at`)."""
    order_id = await conn.fetchval(
        """
        INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key, token_id,
            side, price, shares, usdc, fee, fee_asset, filled_at, reverses)
        SELECT order_id, position_id, strategy, mode, $2, token_id, side, price, $3, $4, $5,
               fee_asset, clock_timestamp(), id
          FROM orderflow_fills WHERE id = $1
        ON CONFLICT (order_id, fill_key) DO NOTHING
        RETURNING order_id
        """,
        fill_id,
        fill_key,
        shares,
        usdc,
        fee,
    )
    if order_id is None:
        return False
    await conn.execute(
        "UPDATE orderflow_orders SET filled_shares = filled_shares - $2,"
        " filled_usdc = filled_usdc - $3, fee = fee - $4, updated_at = clock_timestamp(),"
        f" {closed_at('status', '$5')} WHERE id = $1",
        order_id,
        shares,
        usdc,
        fee,
        now,
    )
    return True


async def set_order_status(
    conn: asyncpg.Connection, order_id: int, status: str, reason: str | None, now: datetime
) -> None:
    """Set an order's status; closed, its late-fill window starts at ``now``, the executor's
    clock."""
    await conn.execute(
        "UPDATE orderflow_orders SET status = $2, status_reason = $3,"
        f" updated_at = clock_timestamp(), {closed_at('$2::text', '$4')} WHERE id = $1",
        order_id,
        status,
        reason,
        now,
    )


async def position_state(conn: asyncpg.Connection, position_id: int) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT id, status, close_reason, mark_price, signal_id FROM orderflow_positions"
        " WHERE id = $1",
        position_id,
    )
    return row


async def reopen_position(conn: asyncpg.Connection, position_id: int) -> bool:
    """Open a closed position again (its closing sell failed on chain), unless the strategy
    holds another open position in the token by now (its signal's P&L is the caller's to
    restate: :func:`orderflow.execution.positions.restate_signal_pnl`)."""
    reopened = await conn.fetchval(
        """
        UPDATE orderflow_positions p SET status = 'OPEN', closed_at = NULL, close_reason = NULL,
               settled_payout = NULL
         WHERE p.id = $1 AND p.status = 'CLOSED'
           AND NOT EXISTS (SELECT 1 FROM orderflow_positions q WHERE q.strategy = p.strategy
                            AND q.token_id = p.token_id AND q.status = 'OPEN')
        RETURNING p.id
        """,
        position_id,
    )
    return reopened is not None
