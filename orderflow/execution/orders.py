"""Placing and reconciling orders: intent first, then the exchange.

``place`` stores the order's intent (``orderflow_orders`` status INTENT, with the client id and
the exchange ids it can get) and commits it *before* the broker sends anything — only while its
signal is PENDING (a leader that found the signal without an order has closed it: nothing is
sent, see ``Trader.close_orphans``) and, live, only when the shared wallet takes it (no
self-trade, no outcome against another strategy's, no more collateral than the exchange reports:
:mod:`orderflow.execution.wallet`, in the intent's transaction, the collateral read by
:mod:`orderflow.execution.order_collateral`). Whatever happens
next — a fill, a rejection, a timeout, a database error, the process dying — the row tells the
executor what to ask the exchange about, and the order counts in the strategy's exposure until
it is settled. Just before sending, the strategy's pause, kill and the signal's age are checked
again (``guard``), and an entry's limits as they stand (:mod:`orderflow.execution.send_check`):
an order queued behind a slow exchange is not sent after a pause, nor past a lowered limit.

``reconcile`` asks the exchange (the desk's :mod:`orderflow.execution.order_reconcile`;
:mod:`orderflow.execution.settlement` decides): fills come from the account's trades, each booked
once under its trade id; an intent is adopted when the exchange knows it, and abandoned only when
its expiry has passed and the trades show no fill — never resent. Each pass then follows the
on-chain settlement of booked live fills (:mod:`orderflow.execution.trade_status`: a trade that
FAILED is reversed, once).

Cancelling (the kill switch's, and entries whose leader has sold) is the desk's ``cancels``
(:mod:`orderflow.execution.cancels`), which books through ``apply`` under the same order locks.
``apply`` books an answer (:mod:`orderflow.execution.order_booking`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import (
    order_queries,
    position_queries,
    send_check,
    wallet,
)
from orderflow.execution.broker import (
    Broker,
    Collateral,
    CredentialsRefusedError,
    Mode,
    OrderInDoubtError,
    OrderOutcome,
    OrderRequest,
    PreparedOrder,
)
from orderflow.execution.cancel_pacing import RefusedCancels
from orderflow.execution.cancels import OrderCanceller
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.desk_access import DeskAccess
from orderflow.execution.key_watch import KEY_REFUSED, KeyWatch
from orderflow.execution.order_booking import book_outcome
from orderflow.execution.order_collateral import CollateralCheck, Hold, NotSent
from orderflow.execution.order_pacing import UsefulFor, send_with_retries
from orderflow.execution.order_reconcile import OrderReconciler
from orderflow.execution.send_check import Entry
from orderflow.execution.signer_pacing import pacing_of
from orderflow.execution.strategy_queries import Switches
from orderflow.execution.tracing import context_from, current_traceparent
from orderflow.execution.trade_status import TradeSettlement
from orderflow.telemetry import tracer

log = logging.getLogger(__name__)
_tracer = tracer("orderflow.execution")

Guard = Callable[[], str | None]  # a reason not to send (None: send)


def utcnow() -> datetime:
    return datetime.now(UTC)


class OrderDesk:
    """Sends orders through the broker of each mode and books what comes back."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        brokers: Mapping[Mode, Broker],
        *,
        clock: Callable[[], datetime] = utcnow,
        call_timeout_secs: float = 10.0,
        settlement_horizon_secs: float = 86_400.0,
    ) -> None:
        self.pool = pool
        self.brokers = brokers
        self.clock = clock
        self.call_timeout = call_timeout_secs
        self.in_doubt: set[int] = set()
        # Intents this desk has stored and is sending now; every other intent is in doubt.
        self._placing: set[int] = set()
        self._locks: dict[int, asyncio.Lock] = {}
        # Midnight's marks (the daily loss): the send check's and the trading loop's, one cache.
        self.marks = DayMarks()
        # The exchange's word on each mode's API key: no order is sent while it refuses it.
        self.keys = {mode: KeyWatch(pool, mode) for mode in brokers}
        # A live BUY's collateral: the decision's read while fresh, else read before the intent.
        self.collateral = CollateralCheck(
            call=self._call, broker=self.broker, keys=self.keys, skip=self._skip
        )
        access = DeskAccess(pool, brokers, call=self._call, locked=self._locked)
        # Orders whose cancels the exchange refused: one pace for reconciliation and the switches.
        self.refused_cancels = RefusedCancels(pool)
        self.settlement = TradeSettlement(
            access,
            clock=lambda: self.clock(),
            horizon=timedelta(seconds=settlement_horizon_secs),
        )
        self.reconciler = OrderReconciler(
            access,
            clock=lambda: self.clock(),
            book=lambda order_id, outcome: self.apply(order_id, outcome, sent=True),
            in_doubt=self.in_doubt,
            placing=self._placing,
            refused=self.refused_cancels,
        )
        self.cancels = OrderCanceller(
            access,
            book=lambda order_id, outcome: self.apply(order_id, outcome, sent=True),
            reconcile=lambda strategy, gone: self.reconcile(strategy=strategy, gone=gone),
            refused=self.refused_cancels,
        )

    def broker(self, mode: Mode) -> Broker:
        broker = self.brokers.get(mode)
        if broker is None:
            raise ExecutionError(f"no {mode} broker (live mode needs POLY_PRIVATE_KEY)")
        return broker

    async def _call(self, call: Awaitable[Any]) -> Any:
        """An exchange call that cannot hang the caller (a timeout leaves things in doubt).

        Not ``asyncio.wait_for``: on Python 3.11 a stop landing as the exchange answers would
        be lost (CPython gh-86296) and the executor would go on to its next order."""
        try:
            async with asyncio.timeout(self.call_timeout):
                return await call
        except TimeoutError:
            raise OrderInDoubtError("the exchange did not answer in time") from None

    @contextlib.asynccontextmanager
    async def _locked(self, order_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(order_id, asyncio.Lock())
        async with lock:
            yield

    # ---------------------------------------------------------------- placing

    async def place(
        self,
        *,
        mode: Mode,
        signal_id: int,
        request: OrderRequest,
        traceparent: str | None,
        guard: Guard | None = None,
        seen: Switches | None = None,
        hold: Hold | None = None,
        collateral: Collateral | None = None,
        entry: Entry | None = None,
        useful_for: UsefulFor = lambda: None,
    ) -> OrderOutcome | None:
        """Prepare, store the intent, send, book. None when not sent or the outcome is in doubt.
        ``seen``: the strategy row's switch counts the decision was taken under (a kill or
        pause since, even lifted again, refuses it: :func:`strategy_queries.switched_off`).
        ``entry``: a BUY as its decision saw it, decided again before it is sent under the
        limits as they stand (:mod:`orderflow.execution.send_check`).
        ``collateral``: the wallet as the decision read it, the live BUY's check's when it is
        fresh enough (:data:`~orderflow.execution.wallet.REUSE_SECS`): one read per entry."""
        broker = self.broker(mode)
        if await self.key_refused(mode):
            # Sent with a key the exchange refuses, it would be refused unprocessed: not sent.
            async with self.pool.acquire() as conn:
                await position_queries.set_signal_status(conn, signal_id, "SKIPPED", KEY_REFUSED)
            return None
        with _tracer.start_as_current_span(
            "orderflow.order",
            context=context_from(traceparent),
            attributes={"orderflow.signal_id": signal_id, "orderflow.mode": mode},
        ) as span:
            try:
                prepared: PreparedOrder = await self._call(broker.prepare(request))
            except ExecutionError as exc:
                await self._skip(signal_id, f"order_build_failed: {exc}")
                return None
            try:
                free = await self.collateral.before_buy(mode, signal_id, request, hold, collateral)
            except NotSent:
                return None
            async with self.pool.acquire() as conn, conn.transaction():
                refused = None
                if mode == "live":  # every live strategy's orders on the wallet, locked
                    maker = str((prepared.signed or {}).get("maker", ""))
                    refused = await wallet.wallet_refusal(conn, prepared.request, maker, free)
                if refused is None:
                    order_id = await order_queries.insert_order_intent(
                        conn,
                        signal_id=signal_id,
                        mode=mode,
                        order=prepared,
                        traceparent=current_traceparent(),
                    )
                else:
                    await position_queries.set_signal_status(conn, signal_id, "SKIPPED", refused)
            if refused is not None:
                log.warning(
                    "live order refused for the shared wallet",
                    extra={"signal_id": signal_id, "reason": refused},
                )
                return None
            if order_id is None:
                # Closed meanwhile by a leader that found it without an order: this executor
                # lost the trading lock and has not noticed yet. Nothing is sent.
                log.warning(
                    "signal closed before its order; not sent", extra={"signal_id": signal_id}
                )
                return None
            span.set_attribute("orderflow.order_id", order_id)
            self._placing.add(order_id)
            if mode == "live" and request.side == "BUY":
                self.collateral.buy_sent()
            try:
                return await self._send(
                    broker, order_id, signal_id, request, prepared, guard, seen, hold, entry,
                    useful_for,
                )  # fmt: skip
            finally:
                self._placing.discard(order_id)

    async def _skip(self, signal_id: int, reason: str) -> None:
        """The signal SKIPPED for ``reason``: no order of it was stored or sent."""
        async with self.pool.acquire() as conn:
            await position_queries.set_signal_status(conn, signal_id, "SKIPPED", reason)

    async def _send(
        self,
        broker: Broker,
        order_id: int,
        signal_id: int,
        request: OrderRequest,
        prepared: PreparedOrder,
        guard: Guard | None,
        seen: Switches | None,
        hold: Hold | None,
        entry: Entry | None,
        useful_for: UsefulFor,
    ) -> OrderOutcome | None:
        """Send a stored intent unless a switch is off or, an entry, the limits as they stand
        refuse it (an entry refused 429 once more while useful: ``order_pacing``), and book the
        answer."""
        await self.before_send(order_id)
        # The database's switches and limits first, the guard last: nothing the trading loop
        # learns while this waits (a kill, the leader's sell) comes between the guard and the
        # send.
        async with self.pool.acquire() as conn:
            refused = await send_check.refusal(
                conn,
                order_id,
                request,
                broker.mode,
                seen=seen,
                entry=entry,
                now=self.clock(),
                marks=self.marks,
            )
        if refused is None and guard is not None:
            refused = guard()
        if refused is not None:
            # Paused, killed, stale or past a lowered limit while queued: nothing was sent.
            async with self.pool.acquire() as conn, conn.transaction():
                await order_queries.abandon_order(
                    conn, order_id, f"not sent: {refused}", self.clock()
                )
                await position_queries.set_signal_status(conn, signal_id, "SKIPPED", refused)
            return None
        try:
            outcome = await send_with_retries(
                lambda: self._call(broker.send(prepared)),
                entry=request.side == "BUY",
                useful_for=useful_for,
                guard=guard,
                pacing=pacing_of(broker),
            )
        except CredentialsRefusedError as exc:
            # Our key refused (401/403): the exchange processed nothing, and would refuse the
            # next order the same way. Not a rejection of this order's merits.
            async with self.pool.acquire() as conn, conn.transaction():
                await order_queries.abandon_order(conn, order_id, KEY_REFUSED, self.clock())
                await position_queries.set_signal_status(conn, signal_id, "SKIPPED", KEY_REFUSED)
            await self.keys[broker.mode].refuse("order", str(exc))
            return None
        except OrderInDoubtError as exc:
            log.warning(
                "order in doubt; will reconcile",
                extra={"order_id": order_id, "signal_id": signal_id, "error": str(exc)},
            )
            self.in_doubt.add(order_id)
            if hold is not None and exc.retry_after is not None:
                hold(exc.retry_after)
            return None
        except BaseException:
            # Anything else once the order may have left (an answer the broker cannot
            # read, the worker cancelled mid-send): the exchange may hold it, so it is in
            # doubt and reconciled like a timeout, never left INTENT unasked until a restart.
            self.in_doubt.add(order_id)
            raise
        if hold is not None and outcome.retry_after is not None:
            hold(outcome.retry_after)
        try:
            # Under the order's lock: a kill may have cancelled it and booked its trades
            # while the answer was on its way.
            async with self._locked(order_id):
                async with self.pool.acquire() as conn:
                    row = await order_queries.order_row(conn, order_id)
                if row["status"] in ("CANCELED", "FILLED"):  # closed meanwhile: it stays so
                    outcome = dataclasses.replace(
                        outcome, status=row["status"], reason=row["status_reason"]
                    )
                await self.apply(order_id, outcome, sent=True)
            await self.keys[broker.mode].accept()
        except Exception as exc:
            # Sent, but not recorded (database trouble): the order stays INTENT, which
            # counts as exposure, and is reconciled from the exchange rather than resent.
            self.in_doubt.add(order_id)
            log.error(
                "order sent but not recorded; in doubt until reconciled",
                extra={"order_id": order_id, "error": f"{type(exc).__name__}: {exc}"},
            )
            return None
        return outcome

    async def key_refused(self, mode: Mode) -> bool:
        """Whether the exchange refuses ``mode``'s API key: once the pause after its last
        refusal has passed, one authenticated read asks again (``check_credentials``)."""
        return await self.keys[mode].still_refused(
            lambda: self._call(self.broker(mode).check_credentials())
        )

    async def before_send(self, order_id: int) -> None:
        """Hook between storing the intent and sending it (tests simulate a crash here)."""

    async def apply(self, order_id: int, outcome: OrderOutcome, *, sent: bool) -> None:
        """Book an outcome: order row, fills into positions, the signal's status
        (:func:`~orderflow.execution.order_booking.book_outcome`)."""
        await book_outcome(
            self.pool, order_id, outcome, sent=sent, in_doubt=self.in_doubt, now=self.clock()
        )

    # ---------------------------------------------------------------- reconciling

    async def reconcile(
        self, strategy: str | None = None, gone: Mapping[int, str] | None = None
    ) -> None:
        """Ask the exchange about open orders, recently cancelled ones (late fills) and intents
        in doubt (:class:`~orderflow.execution.order_reconcile.OrderReconciler`), then follow
        the on-chain settlement of booked live fills. A refused API key is checked again here
        too, once its pause has passed."""
        for mode in self.keys:
            await self.key_refused(mode)
        await self.reconciler.run(strategy, gone)
        # Booked live fills whose trades have not settled on chain yet (FILLED orders too).
        await self.settlement.track(strategy)
