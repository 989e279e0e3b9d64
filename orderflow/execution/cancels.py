"""Cancelling live orders: the kill switch's attempt, and entries whose leader has left.

``cancel_strategy`` is the kill switch's one attempt: every live order of the strategy (intents
in doubt included, by their candidate ids), in parallel batches; the engine retries it with
backoff while the exchange fails (:mod:`orderflow.execution.switch`). ``cancel_left_behind`` is
the same for the entry orders whose leader has sold the token since the buy they followed. Each
order the exchange cancelled is booked CANCELED under its lock (through the desk's ``apply``),
then the strategy is reconciled: what filled before the cancel is booked.

An order the exchange answers ``not_canceled`` and still shows open afterwards (an order it holds
``UNMATCHED``, its delayed matching under way) is not cancelled by asking again every 2 s: its
cancel is sent again after :func:`~orderflow.execution.switch.refused_pause` (2 s doubling to a
minute, for as long as it stays open: a killed strategy's live order is never given up), its
second refusal in a row is logged as an error naming the order and the exchange's reason (a
warning for the others), and each one is
counted (``orderflow_cancels_refused_total{why="not_canceled"}``). The others — a new order —
are cancelled at the switch's next attempt.

The :class:`~orderflow.execution.orders.OrderDesk` owns one :class:`OrderCanceller` and lends it
its exchange call, its order locks, its booking (``apply``) and its reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import order_queries
from orderflow.execution.broker import CancelResult, CredentialsRefusedError, OrderOutcome
from orderflow.execution.desk_access import DeskAccess
from orderflow.execution.settlement import order_ids
from orderflow.execution.switch import refusals, refused_pause

log = logging.getLogger(__name__)
CANCEL_BATCH = 100  # order ids per cancel request (several requests go out in parallel)
# The refusal logged as an error: the second in a row (the order outlived a cancel and a pause;
# a first may be the exchange's order endpoint lagging behind a fill or a cancel).
ERROR_AFTER = 2


@dataclass(slots=True)
class Refused:
    """An open order whose cancels the exchange refused ``tries`` times in a row."""

    strategy: str
    reason: str  # what the cancel was for (strategy_killed, leader_exited)
    tries: int
    due: float  # monotonic: when its cancel is sent again


class OrderCanceller:
    """Cancels a strategy's live orders, and books what the exchange cancelled."""

    def __init__(
        self,
        desk: DeskAccess,
        *,
        book: Callable[[int, OrderOutcome], Awaitable[None]],
        reconcile: Callable[[str], Awaitable[None]],
    ) -> None:
        self.desk = desk
        self.book = book  # book a sent order's outcome (the desk's apply)
        self.reconcile = reconcile  # reconcile one strategy's orders (the desk's)
        self.refused: dict[int, Refused] = {}  # by order row id

    async def cancel_strategy(self, strategy: str) -> int:
        """The kill switch's one attempt at cancelling every live order of ``strategy``;
        returns how many are still open afterwards. Raises :class:`ExecutionError` when the
        exchange fails (the engine retries with backoff)."""
        async with self.desk.pool.acquire() as conn:
            rows = await order_queries.orders_in(conn, ["OPEN", "INTENT"], strategy)
        await self._cancel(strategy, list(rows), "strategy_killed")
        async with self.desk.pool.acquire() as conn:
            return len(await order_queries.orders_in(conn, ["OPEN"], strategy))

    async def cancel_left_behind(self, strategy: str) -> int:
        """One attempt at cancelling ``strategy``'s live entry orders whose leader has sold
        the token since (``leader_exited``); returns how many still rest afterwards. Raises
        :class:`ExecutionError` when the exchange fails (the engine retries with backoff)."""
        async with self.desk.pool.acquire() as conn:
            rows = await order_queries.left_behind(conn, strategy)
        await self._cancel(strategy, rows, "leader_exited")
        async with self.desk.pool.acquire() as conn:
            rows = await order_queries.left_behind(conn, strategy)
        return sum(1 for r in rows if r["status"] == "OPEN")

    async def _cancel(self, strategy: str, live: list[asyncpg.Record], reason: str) -> None:
        """Cancel these live orders (intents in doubt by their candidate ids), in parallel
        batches; each one the exchange cancelled is CANCELED with ``reason``; then what filled
        before the cancel is booked and what was not cancelled settled (reconciliation). An
        order whose cancel the exchange refused is left out until its pause has passed."""
        live = self._due(strategy, live, reason)
        if not live:
            return
        cancelled: set[str] = set()
        answers: dict[str, str] = {}  # the exchange's reason for each id it did not cancel
        answered: set[str] = set()  # the modes whose exchange answered every cancel
        failed: list[ExecutionError] = []
        # Each mode on its own: a failing exchange (or our key refused there) holds back
        # neither the other mode's cancels nor the booking of what was cancelled.
        for mode in sorted({r["mode"] for r in live}):
            broker = self.desk.brokers.get(mode)
            if broker is None:
                continue
            ids = [oid for r in live if r["mode"] == mode for oid in order_ids(r)]
            batches = [ids[i : i + CANCEL_BATCH] for i in range(0, len(ids), CANCEL_BATCH)]
            results = await asyncio.gather(
                *(self.desk.call(broker.cancel(b)) for b in batches), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            for result in results:
                if isinstance(result, CancelResult):
                    cancelled.update(result.canceled)
                    answers.update(result.not_canceled)
            if not errors:
                answered.add(mode)
                continue
            unexpected = [e for e in errors if not isinstance(e, ExecutionError)]
            if unexpected:
                raise unexpected[0]
            known = [e for e in errors if isinstance(e, ExecutionError)]
            refused = [e for e in known if isinstance(e, CredentialsRefusedError)]
            if refused:  # the switch paces and logs it
                async with self.desk.pool.acquire() as conn:
                    why = f"credentials: {refused[0]}"
                    mine = {r["id"]: why for r in live if r["mode"] == mode}
                    await order_queries.note_cancels_refused(conn, mine)
            failed.append(refused[0] if refused else known[0])
        for row in live:
            hit = [oid for oid in order_ids(row) if oid in cancelled]
            if not hit:
                continue
            async with self.desk.locked(row["id"]):
                async with self.desk.pool.acquire() as conn:  # a reversal may have come in between
                    fresh = await order_queries.order_row(conn, row["id"])
                await self.book(
                    row["id"],
                    OrderOutcome(
                        status="CANCELED",
                        exchange_order_id=hit[0],
                        reason=reason,
                        filled_shares=Decimal(fresh["filled_shares"]),
                    ),
                )
        if cancelled:
            log.warning(
                "cancelled open orders",
                extra={"strategy": strategy, "n": len(cancelled), "reason": reason},
            )
        if answered:  # not into an exchange that failed every cancel (the switch retries)
            with contextlib.suppress(ExecutionError):
                await self.reconcile(strategy)
        await self._note_refusals(
            strategy, [r for r in live if r["mode"] in answered], answers, reason
        )
        if failed:  # the switch retries: a refused key first (it is paced)
            failed.sort(key=lambda e: not isinstance(e, CredentialsRefusedError))
            raise failed[0]

    def _due(self, strategy: str, live: list[asyncpg.Record], reason: str) -> list[asyncpg.Record]:
        """The orders to send a cancel for now: all but those refused whose pause runs. The
        refusals of orders no longer among these (closed since) are forgotten."""
        ids = {r["id"] for r in live}
        for order_id, refused in list(self.refused.items()):
            if (refused.strategy, refused.reason) == (strategy, reason) and order_id not in ids:
                del self.refused[order_id]
                log.warning(
                    "an order the exchange refused to cancel is closed now",
                    extra={"strategy": strategy, "order_id": order_id, "tries": refused.tries},
                )
        now = time.monotonic()
        return [r for r in live if r["id"] not in self.refused or self.refused[r["id"]].due <= now]

    async def _note_refusals(
        self, strategy: str, sent: list[asyncpg.Record], answers: Mapping[str, str], reason: str
    ) -> None:
        """Orders still open after their cancel (and the reconciliation after it) were refused
        by the exchange: paced, logged once as an error, counted."""
        async with self.desk.pool.acquire() as conn:
            current = await order_queries.order_rows(conn, [r["id"] for r in sent])
        still: dict[int, str] = {}  # the refused ones, with why (for the status)
        for row in sent:
            fresh = current[row["id"]]
            if fresh["status"] != "OPEN":
                self.refused.pop(row["id"], None)
                continue
            refused = self.refused.get(row["id"]) or Refused(strategy, reason, 0, 0.0)
            refused.tries += 1
            refused.due = time.monotonic() + refused_pause(refused.tries)
            self.refused[row["id"]] = refused
            refusals.add(1, {"why": "not_canceled"})
            exchange_id = fresh["exchange_order_id"]
            extra = {
                "strategy": strategy,
                "order_id": row["id"],
                "exchange_order_id": exchange_id,
                "reason": reason,
                "exchange_reason": answers.get(exchange_id, "no answer"),
                "tries": refused.tries,
                "retry_in_secs": refused_pause(refused.tries),
            }
            still[row["id"]] = f"not_canceled: {extra['exchange_reason']}"
            if refused.tries == ERROR_AFTER:
                log.error(
                    "the exchange refuses to cancel a live order; asking again at a slower"
                    " pace (at most a minute apart) until it closes",
                    extra=extra,
                )
            else:
                log.warning("cancel refused; the order is still open", extra=extra)
        if still:
            async with self.desk.pool.acquire() as conn:
                await order_queries.note_cancels_refused(conn, still)
