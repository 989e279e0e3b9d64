"""Placing, reconciling and cancelling orders: intent first, then the exchange.

``place`` stores the order's intent (``orderflow_orders`` status INTENT, with the client id and
the exchange ids it can get) and commits it *before* the broker sends anything. Whatever happens
next — a fill, a rejection, a timeout, the process dying — the row tells a restarted executor
what to ask the exchange about. ``reconcile`` does that asking: an intent the exchange knows is
adopted (its status and fills are booked), an intent it never saw is ABANDONED, never resent
(the signal behind it is stale by then anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import queries
from orderflow.execution.broker import (
    Broker,
    Mode,
    OrderInDoubtError,
    OrderOutcome,
    OrderRequest,
)
from orderflow.execution.positions import book_fill
from orderflow.execution.tracing import context_from, current_traceparent, fill_span
from orderflow.telemetry import meter, tracer

log = logging.getLogger(__name__)
_tracer = tracer("orderflow.execution")
_orders = meter("orderflow.execution").create_counter(
    "orderflow_orders_total", description="Orders by mode and resulting status"
)


class OrderDesk:
    """Sends orders through the broker of each mode and books what comes back."""

    def __init__(self, pool: asyncpg.Pool, brokers: Mapping[Mode, Broker]) -> None:
        self.pool = pool
        self.brokers = brokers
        self.in_doubt: set[int] = set()

    def broker(self, mode: Mode) -> Broker:
        broker = self.brokers.get(mode)
        if broker is None:
            raise ExecutionError(f"no {mode} broker (live mode needs POLY_PRIVATE_KEY)")
        return broker

    async def place(
        self, *, mode: Mode, signal_id: int, request: OrderRequest, traceparent: str | None
    ) -> OrderOutcome | None:
        """Prepare, store the intent, send, book. None when the outcome is in doubt."""
        broker = self.broker(mode)
        with _tracer.start_as_current_span(
            "orderflow.order",
            context=context_from(traceparent),
            attributes={"orderflow.signal_id": signal_id, "orderflow.mode": mode},
        ) as span:
            try:
                prepared = await broker.prepare(request)
            except ExecutionError as exc:
                async with self.pool.acquire() as conn:
                    await queries.set_signal_status(
                        conn, signal_id, "SKIPPED", f"order_build_failed: {exc}"
                    )
                return None
            async with self.pool.acquire() as conn:
                order_id = await queries.insert_order_intent(
                    conn,
                    signal_id=signal_id,
                    mode=mode,
                    order=prepared,
                    traceparent=current_traceparent(),
                )
            span.set_attribute("orderflow.order_id", order_id)
            await self.before_send(order_id)
            try:
                outcome = await broker.send(prepared)
            except OrderInDoubtError as exc:
                log.warning(
                    "order in doubt; will reconcile",
                    extra={"order_id": order_id, "signal_id": signal_id, "error": str(exc)},
                )
                self.in_doubt.add(order_id)
                return None
            await self.apply(order_id, outcome, sent=True)
            return outcome

    async def before_send(self, order_id: int) -> None:
        """Hook between storing the intent and sending it (tests simulate a crash here)."""

    async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
        """Book an outcome: order row, fills into positions, the signal's status."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await queries.order_row(conn, order_id)
            await queries.update_order(conn, order_id, outcome, sent=sent)
            for fill in outcome.fills:
                with fill_span(row, fill):
                    await book_fill(conn, order=row, fill=fill, outcome_index=row["outcome_index"])
            filled = outcome.filled_shares > 0 or Decimal(row["filled_shares"]) > 0
            if filled and row["signal_status"] != "EXECUTED":
                await queries.set_signal_status(conn, row["signal_id"], "EXECUTED", "filled")
            elif not filled and outcome.status == "REJECTED":
                await queries.set_signal_status(
                    conn, row["signal_id"], "SKIPPED", f"order_rejected: {outcome.reason}"
                )
            elif not filled and outcome.status == "CANCELED":
                await queries.set_signal_status(
                    conn, row["signal_id"], "SKIPPED", outcome.reason or "order_unfilled"
                )
        _orders.add(1, {"mode": row["mode"], "status": outcome.status})
        log.info(
            "order",
            extra={
                "order_id": order_id,
                "signal_id": row["signal_id"],
                "strategy": row["strategy"],
                "status": outcome.status,
                "exchange_order_id": outcome.exchange_order_id,
            },
        )

    async def reconcile(self, *, intents: bool) -> None:
        """Ask the exchange about OPEN orders (and INTENT ones when ``intents``)."""
        statuses = ["OPEN", "INTENT"] if intents else ["OPEN"]
        async with self.pool.acquire() as conn:
            rows = await queries.orders_in(conn, statuses)
        for row in rows:
            if row["status"] == "INTENT" and not intents and row["id"] not in self.in_doubt:
                continue
            await self._reconcile_one(row)

    async def reconcile_in_doubt(self) -> None:
        if not self.in_doubt:
            return
        async with self.pool.acquire() as conn:
            rows = [await queries.order_row(conn, oid) for oid in sorted(self.in_doubt)]
        for row in rows:
            await self._reconcile_one(row)

    async def _reconcile_one(self, row: asyncpg.Record) -> None:
        broker = self.brokers.get(row["mode"])
        if broker is None:
            return
        ids = (
            (row["exchange_order_id"],)
            if row["exchange_order_id"]
            else tuple(row["candidate_order_ids"])
        )
        try:
            outcome = await broker.lookup(
                ids, price=row["price"], filled_shares=Decimal(row["filled_shares"])
            )
        except ExecutionError as exc:
            log.warning("reconcile failed", extra={"order_id": row["id"], "error": str(exc)})
            return
        self.in_doubt.discard(row["id"])
        if outcome is None:
            if row["status"] == "INTENT":
                async with self.pool.acquire() as conn, conn.transaction():
                    await queries.abandon_order(conn, row["id"], "unknown to the exchange")
                    await queries.set_signal_status(
                        conn, row["signal_id"], "SKIPPED", "order_not_sent"
                    )
                log.warning("order intent abandoned", extra={"order_id": row["id"]})
            return
        if outcome.status != row["status"] or outcome.fills:
            await self.apply(row["id"], outcome, sent=True)

    async def abandon_orphans(self) -> None:
        """Accepted signals whose intent was never stored: the order was never sent."""
        async with self.pool.acquire() as conn:
            for signal_id in await queries.pending_signals_without_order(conn):
                await queries.set_signal_status(
                    conn, signal_id, "SKIPPED", "interrupted_before_order"
                )

    async def cancel_strategy(self, strategy: str) -> list[str]:
        """Kill switch: cancel the strategy's open orders at the exchange."""
        async with self.pool.acquire() as conn:
            rows = await queries.orders_in(conn, ["OPEN"], strategy)
        cancelled: list[str] = []
        by_mode: dict[Mode, list[asyncpg.Record]] = {}
        for row in rows:
            by_mode.setdefault(row["mode"], []).append(row)
        for mode, orders in by_mode.items():
            broker = self.brokers.get(mode)
            ids = [r["exchange_order_id"] for r in orders if r["exchange_order_id"]]
            if broker is None or not ids:
                continue
            done = set(await broker.cancel(ids))
            cancelled.extend(done)
            for row in orders:
                if row["exchange_order_id"] in done:
                    await self.apply(
                        row["id"],
                        OrderOutcome(
                            status="CANCELED",
                            exchange_order_id=row["exchange_order_id"],
                            reason="strategy_killed",
                            filled_shares=Decimal(row["filled_shares"]),
                        ),
                        sent=True,
                    )
        if cancelled:
            log.warning(
                "kill: cancelled open orders", extra={"strategy": strategy, "n": len(cancelled)}
            )
        return cancelled
