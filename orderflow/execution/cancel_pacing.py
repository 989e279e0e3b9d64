"""Cancels the exchange refuses, paced per order, whoever sends them.

Two senders cancel a live order: the kill and leader-exit switches
(:class:`~orderflow.execution.cancels.OrderCanceller`) and reconciliation, for an order the
exchange still shows open past its expiry by our clock
(:class:`~orderflow.execution.order_reconcile.OrderReconciler`). An order the exchange answers
``not_canceled`` and still shows open afterwards (one it holds ``UNMATCHED``, its delayed
matching under way) is not cancelled by asking again at once: :class:`RefusedCancels` — one per
desk, lent to both senders — keeps each such order's refusals in a row and when its cancel may
be sent again (:func:`~orderflow.execution.switch.refused_pause`: 2 s doubling to a minute, for
as long as it stays open: a killed strategy's live order is never given up). One sender's
refusal paces the other's, and while one sends an order's cancel the other sends none for it:
a killed strategy's order past its expiry had its cancel sent, and its refusal counted, twice at
each attempt (the kill's, then the reconciliation the kill runs after it).

Each refusal is counted (``orderflow_cancels_refused_total{why="not_canceled"}``) and noted on
the order (``orderflow strategy status``: migrations 054, 062); the order's second refusal in a
row is logged as an error naming the order and the exchange's reason (the order outlived a
cancel and a pause; a first may be the exchange's order endpoint lagging behind a fill or a
cancel), the others as warnings. An order that closes (cancelled, filled, expired at the
exchange) is forgotten, with a warning. The refusals in a row are this process's: after a
restart the pace starts again at 2 s, and a second refusal is an error again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass

import asyncpg

from orderflow.execution import order_queries
from orderflow.execution.switch import refusals, refused_pause

log = logging.getLogger(__name__)
# The refusal logged as an error: the second in a row.
ERROR_AFTER = 2


@dataclass(frozen=True, slots=True)
class Refusal:
    """One cancel the exchange refused: the order is still open after it."""

    order_id: int  # the order's row id
    strategy: str
    reason: str  # what the cancel was for (strategy_killed, leader_exited, expired)
    exchange_order_id: str | None
    exchange_reason: str  # the exchange's words for not cancelling it ("no answer": none)


@dataclass(slots=True)
class Refused:
    """An open order whose cancels the exchange refused ``tries`` times in a row."""

    strategy: str
    reason: str  # what the last refused cancel was for
    tries: int
    due: float  # when (the pacer's clock) its cancel may be sent again


class RefusedCancels:
    """The desk's open orders whose cancels the exchange refused, by order row id."""

    def __init__(self, pool: asyncpg.Pool, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pool = pool
        self.clock = clock
        self.orders: dict[int, Refused] = {}
        self._sending: set[int] = set()  # orders whose cancel a sender is sending right now

    def due(self, order_id: int) -> bool:
        """Whether a cancel of the order may be sent now: no sender is sending one, and no
        refusal's pause runs."""
        if order_id in self._sending:
            return False
        refused = self.orders.get(order_id)
        return refused is None or refused.due <= self.clock()

    @contextlib.contextmanager
    def sending(self, order_ids: Iterable[int]) -> Iterator[set[int]]:
        """Take the orders whose cancel may be sent now (:meth:`due`), yielded; the other
        sender sends none for them until the block ends (their answers settled and any refusal
        noted in it)."""
        taken = {order_id for order_id in order_ids if self.due(order_id)}
        self._sending |= taken
        try:
            yield taken
        finally:
            self._sending -= taken

    def closed(self, order_id: int) -> None:
        """The order is no longer open (or was cancelled): its refusals are forgotten."""
        refused = self.orders.pop(order_id, None)
        if refused is not None:
            log.warning(
                "an order the exchange refused to cancel is closed now",
                extra={"strategy": refused.strategy, "order_id": order_id, "tries": refused.tries},
            )

    def closed_but(
        self, open_ids: Collection[int], strategy: str | None = None, reason: str | None = None
    ) -> None:
        """Forget the orders not among ``open_ids`` whose last refused cancel was
        ``strategy``'s (None: any strategy's), for ``reason`` (None: any)."""
        for order_id, refused in list(self.orders.items()):
            if order_id in open_ids:
                continue
            if strategy in (None, refused.strategy) and reason in (None, refused.reason):
                self.closed(order_id)

    async def refused(self, refused: Sequence[Refusal]) -> None:
        """These orders' cancels were refused: each paced, counted and logged, and noted on
        the order (one write)."""
        for refusal in refused:
            self._pace(refusal)
        if refused:
            why = {r.order_id: f"not_canceled: {r.exchange_reason}" for r in refused}
            async with self.pool.acquire() as conn:
                await order_queries.note_cancels_refused(conn, why)

    def _pace(self, refusal: Refusal) -> None:
        known = self.orders.get(refusal.order_id)
        tries = 1 if known is None else known.tries + 1
        pause = refused_pause(tries)
        self.orders[refusal.order_id] = Refused(
            refusal.strategy, refusal.reason, tries, self.clock() + pause
        )
        refusals.add(1, {"why": "not_canceled"})
        extra = {
            "strategy": refusal.strategy,
            "order_id": refusal.order_id,
            "exchange_order_id": refusal.exchange_order_id,
            "reason": refusal.reason,
            "exchange_reason": refusal.exchange_reason,
            "tries": tries,
            "retry_in_secs": pause,
        }
        if tries == ERROR_AFTER:
            log.error(
                "the exchange refuses to cancel a live order; asking again at a slower"
                " pace (at most a minute apart) until it closes",
                extra=extra,
            )
        else:
            log.warning("cancel refused; the order is still open", extra=extra)
