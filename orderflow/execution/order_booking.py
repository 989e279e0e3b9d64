"""Booking an order's outcome: the order row, its fills into positions, the signal's status.

The order desk (:class:`orderflow.execution.orders.OrderDesk`) books every answer through here —
a placement's, reconciliation's (:mod:`orderflow.execution.order_reconcile`), a cancel's
(:mod:`orderflow.execution.cancels`), through ``OrderDesk.apply``. Each trade is booked once under
its trade id (:func:`orderflow.execution.settlement.unbooked`) and recorded to be followed until
it settles on chain (:mod:`orderflow.execution.trade_status`).
"""

from __future__ import annotations

import logging
from collections.abc import MutableSet
from datetime import datetime
from decimal import Decimal

import asyncpg

from orderflow.execution import (
    order_queries,
    position_queries,
    trade_queries,
    wallet_share_queries,
)
from orderflow.execution.broker import OrderOutcome
from orderflow.execution.positions import book_fill
from orderflow.execution.settlement import unbooked
from orderflow.execution.tracing import fill_span
from orderflow.telemetry import meter

log = logging.getLogger("orderflow.execution.orders")  # the desk's: its "order" lines as before
_orders = meter("orderflow.execution").create_counter(
    "orderflow_orders_total", description="Orders by mode and resulting status"
)


async def book_outcome(
    pool: asyncpg.Pool,
    order_id: int,
    outcome: OrderOutcome,
    *,
    sent: bool,
    in_doubt: MutableSet[int],
    now: datetime,
) -> None:
    """Book an outcome: order row, fills into positions, the signal's status; the order is no
    longer in doubt (``in_doubt``: the desk's). ``now`` is the executor's clock (a close starts
    the order's late-fill window at it)."""
    async with pool.acquire() as conn, conn.transaction():
        # First: a squaring of the wallet's shares of the token is waited for, not overtaken.
        await wallet_share_queries.lock_order(conn, order_id)
        row = await order_queries.order_row(conn, order_id)
        # Each trade once: a placement answer's trades may have been booked from the
        # account's trades already (a kill's reconciliation while the answer was late).
        fills = unbooked(outcome.fills, await order_queries.booked_fill_keys(conn, order_id))
        await order_queries.update_order(conn, order_id, outcome, sent=sent, now=now)
        for fill in fills:
            with fill_span(row, fill):
                await book_fill(conn, order=row, fill=fill, outcome_index=row["outcome_index"])
            # Followed until settled on chain: a live trade may fail, a paper fill's level
            # may be reorged away (both reversed: orderflow.execution.trade_status).
            await trade_queries.record_trades(conn, order_id, fill)
        filled = outcome.filled_shares > 0 or Decimal(row["filled_shares"]) > 0
        if filled and row["signal_status"] != "EXECUTED":
            await position_queries.set_signal_status(conn, row["signal_id"], "EXECUTED", "filled")
        elif not filled and outcome.status == "REJECTED":
            await position_queries.set_signal_status(
                conn, row["signal_id"], "SKIPPED", f"order_rejected: {outcome.reason}"
            )
        elif not filled and outcome.status == "CANCELED":
            await position_queries.set_signal_status(
                conn, row["signal_id"], "SKIPPED", outcome.reason or "order_unfilled"
            )
    in_doubt.discard(order_id)
    _orders.add(1, {"mode": row["mode"], "status": outcome.status})
    log.info(
        "order",
        extra={
            "order_id": order_id,
            "signal_id": row["signal_id"],
            "strategy": row["strategy"],
            "status": outcome.status,
            "exchange_order_id": outcome.exchange_order_id,
            "fills": len(fills),
        },
    )
