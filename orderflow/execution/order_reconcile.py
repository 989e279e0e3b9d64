"""Reconciling orders with the exchange: what it says of the orders we stored.

Every pass asks about the open orders, the ones closed short of their size whose late fills may
still be listed (until a complete pass of their mode has read the trades
:data:`~orderflow.execution.settlement.LATE_FILLS` after their close:
:mod:`~orderflow.execution.fill_watermark`, whatever the outage in between) and the intents
in doubt — every intent the desk is not sending right now: its own after a failed send, any at
start-up, and one an old leader stored and sent in the second before it noticed it had lost the
trading lock. Per mode, the account's trades since the oldest of them are read once, and each
order's status is looked up (:data:`~orderflow.execution.desk_access.LOOKUP_CONCURRENCY` at a
time); an order a trade names that could not be read is in doubt (never closed short while
so); :func:`~orderflow.execution.settlement.settle` decides, under the order's lock: fills are
booked through the desk's ``apply`` (each trade once), an intent the exchange knows is adopted,
one whose expiry has passed with no fill is abandoned (never resent), and an order the exchange
still shows open past its expiry by our clock is cancelled, then closed. One whose cancel the
exchange refuses (``not_canceled``: an order it holds ``UNMATCHED``) stays OPEN — it still counts,
its fills are booked however late, the kill switch still sees it — until the exchange no longer
shows it open: a V2 order's expiration is not in what it signs, so only the exchange's own
bookkeeping expires it. Its refusals are paced by the desk's
:class:`~orderflow.execution.cancel_pacing.RefusedCancels`, shared with the kill and leader-exit
switches: its cancel is sent again after 2 s doubling to a minute (by whichever asks first), each
refusal is noted on the order (``orderflow strategy status``) and counted
(``orderflow_cancels_refused_total{why="not_canceled"}``), its second in a row logged as an
error.

The :class:`~orderflow.execution.orders.OrderDesk` owns one :class:`OrderReconciler` and lends it
its exchange call, its order locks, its booking, its sets of orders in doubt and being sent, and
its refused cancels' pacer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import fill_watermark, order_queries, position_queries
from orderflow.execution.broker import (
    AccountFills,
    Broker,
    CancelResult,
    ExchangeFill,
    Mode,
    OrderOutcome,
    not_held,
)
from orderflow.execution.cancel_pacing import Refusal, RefusedCancels
from orderflow.execution.desk_access import LOOKUP_CONCURRENCY, DeskAccess
from orderflow.execution.log_pace import OutageLog
from orderflow.execution.settlement import EXCHANGE_CLOCK_LAG, Verdict, order_ids, settle

log = logging.getLogger(__name__)
# A fill stamped this long before its order's creation (our clock) is logged: the exchange's
# clock lags ours by more than a request takes.
LAG_TOLD = timedelta(minutes=1)
# Why an order the exchange's switch cancelled (our order heartbeat lapsed) was closed.
HEARTBEAT_LAPSED = "heartbeat_lapsed"
# Why an order of a resolved market the exchange shows nowhere was closed: the CLOB cancels
# every order of a market at its resolution (``CANCELED_MARKET_RESOLVED``).
MARKET_RESOLVED = "market_resolved"


class OrderReconciler:
    """Settles the desk's stored orders against what the exchange says of them."""

    def __init__(
        self,
        access: DeskAccess,
        *,
        clock: Callable[[], datetime],
        book: Callable[[int, OrderOutcome], Awaitable[None]],
        in_doubt: set[int],
        placing: set[int],
        refused: RefusedCancels,
    ) -> None:
        self.access = access
        self.clock = clock
        self.book = book
        self.in_doubt = in_doubt  # the desk's: intents whose sending may have failed
        self.placing = placing  # the desk's: intents it is sending right now
        self.refused = refused  # the desk's refused cancels, shared with the cancel switches
        self.lag_told: set[int] = set()  # orders whose fills showed the exchange's clock lagging
        # Strategies halted by invalid settings, each at its row's generation found so (the
        # engine's registry): an entry of one found cancelled is the pause switch's cancel.
        self.invalid: Callable[[], Mapping[str, int]] = dict
        # By mode: when the exchange's switch last lapsed, our order heartbeats not taken for
        # its timeout (:mod:`order_heartbeat`): the orders resting then were cancelled by it.
        self.lapsed: dict[Mode, datetime] = {}
        # By mode, a pass's read of the trades, an order's lookup and an expired order's cancel
        # failing: logged at once, then a line a minute (of the desk's clock) with the count
        # since, and once when it passes again.
        self.reads_failing = OutageLog(
            log,
            "reconcile failed",
            "reconcile passes again for the {key} orders after {failures} failed pass(es)",
            self._stamp,
        )
        self.lookups_failing = OutageLog(
            log,
            "order lookup failed",
            "order lookups pass again for the {key} orders after {failures} failed lookup(s)",
            self._stamp,
        )
        self.cancels_failing = OutageLog(
            log,
            "expired order's cancel failed",
            "expired orders' cancels pass again for the {key} orders after {failures} failure(s)",
            self._stamp,
        )

    def _stamp(self) -> float:
        return self.clock().timestamp()

    def heartbeat_lapsed(self, mode: Mode, before: datetime) -> None:
        """The exchange's switch lapsed at ``before``: every order of ``mode`` resting then has
        been cancelled by the exchange. One it shows nowhere is then done — cancelled, or matched
        with its trades listed late — and closed CANCELED ``heartbeat_lapsed`` with its fills so
        far, its late fills asked for (:func:`~orderflow.execution.settlement.settle`'s
        ``gone``), once a cancel of it is answered cancelled or not held (:func:`_unconfirmed`:
        an order held ``UNMATCHED`` is shown nowhere too); it stayed OPEN until its expiry:
        counted, and an exit so cancelled under way, not tried again. One it still shows is
        read as shown."""
        self.lapsed[mode] = max(before, self.lapsed.get(mode, before))

    def _lapse_gone(self, rows: Iterable[asyncpg.Record]) -> dict[int, str]:
        """The open orders sent before their mode's last lapse (:meth:`heartbeat_lapsed`)."""
        return {
            row["id"]: HEARTBEAT_LAPSED
            for row in rows
            if row["status"] == "OPEN"
            and row["sent_at"] is not None
            and (before := self.lapsed.get(row["mode"])) is not None
            and row["sent_at"] <= before
        }

    async def run(self, strategy: str | None = None, gone: Mapping[int, str] | None = None) -> None:
        """One pass over the orders to reconcile (of ``strategy``, or all); a pass over all of
        them moves the watermark of each mode it completed (:mod:`fill_watermark`). ``gone``:
        orders (by row id) whose cancel the exchange has just answered saying it holds no such
        order, with the cancel's reason (:func:`~orderflow.execution.settlement.settle`)."""
        started = self.clock()
        async with self.access.pool.acquire() as conn:
            rows = await order_queries.orders_to_reconcile(conn, started, strategy)
        self.in_doubt.update(
            r["id"] for r in rows if r["status"] == "INTENT" and r["id"] not in self.placing
        )
        rows = [r for r in rows if r["status"] != "INTENT" or r["id"] in self.in_doubt]
        open_ids = {r["id"] for r in rows if r["status"] == "OPEN"}
        self.refused.closed_but(open_ids, strategy)  # closed since: forgotten
        gone = {**_resolved_gone(rows), **self._lapse_gone(rows), **(gone or {})}
        complete = await self._rows(rows, gone)
        if strategy is None and complete:
            async with self.access.pool.acquire() as conn:
                for mode in complete:
                    await fill_watermark.advance(conn, mode, started)

    async def _rows(self, rows: Iterable[asyncpg.Record], gone: Mapping[int, str]) -> list[Mode]:
        """Reconcile ``rows``; the modes whose trades were read (and fills booked), or that
        have nothing to read."""
        by_mode: dict[Mode, list[asyncpg.Record]] = {}
        for row in rows:
            by_mode.setdefault(row["mode"], []).append(row)
        complete: list[Mode] = []
        for mode, broker in self.access.brokers.items():
            group = by_mode.get(mode)
            if not group:
                complete.append(mode)  # no order of the mode may fill
                continue
            try:
                await self._group(broker, group, gone)
            except ExecutionError as exc:
                self.reads_failing.failed(mode, str(exc))
                continue
            self.reads_failing.passed(mode)
            complete.append(mode)
        return complete

    async def _group(
        self, broker: Broker, rows: list[asyncpg.Record], gone: Mapping[int, str]
    ) -> None:
        ids = {oid for row in rows for oid in order_ids(row)}
        since = min(row["created_at"] for row in rows) - EXCHANGE_CLOCK_LAG
        read: AccountFills = await self.access.call(broker.fills(ids, since))
        by_order: dict[str, list[ExchangeFill]] = {}
        for f in read.fills:
            by_order.setdefault(f.order_id, []).append(f)
        self._lagging(rows, by_order)
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        looked = [0, 0]  # lookups made, failed

        async def one(row: asyncpg.Record) -> None:
            mine = [f for oid in order_ids(row) for f in by_order.get(oid, [])]
            in_doubt = not read.unreadable.isdisjoint(order_ids(row))
            found = None
            if row["status"] not in ("CANCELED", "ABANDONED"):  # closed: its late fills only
                async with gate:
                    looked[0] += 1
                    try:
                        found = await self.access.call(broker.lookup(order_ids(row)))
                    except ExecutionError as exc:
                        looked[1] += 1
                        self.lookups_failing.failed(row["mode"], str(exc), order_id=row["id"])
                        return
            await self._settle_one(broker, row, mine, found, in_doubt, gone.get(row["id"]))

        await asyncio.gather(*(one(row) for row in rows))
        if looked[0] and not looked[1]:
            self.lookups_failing.passed(rows[0]["mode"])

    def _lagging(
        self, rows: Iterable[asyncpg.Record], by_order: Mapping[str, list[ExchangeFill]]
    ) -> None:
        """Log (once per order) a fill the exchange stamped more than :data:`LAG_TOLD` before
        its order was created by our clock: the exchange's clock lags ours (the trades are read
        from an order's creation less :data:`EXCHANGE_CLOCK_LAG`: a lag beyond that loses
        fills)."""
        for row in rows:
            if row["id"] in self.lag_told:
                continue
            stamps = [f.fill.at for oid in order_ids(row) for f in by_order.get(oid, [])]
            lag = row["created_at"] - min(stamps, default=row["created_at"])
            if lag > LAG_TOLD:
                self.lag_told.add(row["id"])
                log.warning(
                    "the exchange's clock lags ours: a fill stamped before its order was created",
                    extra={
                        "order_id": row["id"],
                        "lag_secs": round(lag.total_seconds()),
                        "read_back_secs": EXCHANGE_CLOCK_LAG.total_seconds(),
                    },
                )

    async def _settle_one(
        self,
        broker: Broker,
        row: asyncpg.Record,
        fills: list[ExchangeFill],
        found: OrderOutcome | None,
        in_doubt: bool,
        gone: str | None,
    ) -> None:
        async with self.access.locked(row["id"]):
            async with self.access.pool.acquire() as conn:
                fresh = await order_queries.order_row(conn, row["id"])
                booked = await order_queries.booked_fill_keys(conn, row["id"])
            seen: Mapping[str, Any] = fresh
            if self.invalid().get(fresh["strategy"]) == fresh["strategy_generation"]:
                seen = {**fresh, "strategy_paused": True}  # halted as by a pause
            verdict = settle(seen, fills, found, booked, self.clock(), in_doubt=in_doubt, gone=gone)
            if verdict.abandon:
                async with self.access.pool.acquire() as conn, conn.transaction():
                    await order_queries.abandon_order(
                        conn, row["id"], verdict.reason or "unknown", self.clock()
                    )
                    await position_queries.set_signal_status(
                        conn, row["signal_id"], "SKIPPED", "order_not_sent"
                    )
                self.in_doubt.discard(row["id"])
                log.warning("order intent abandoned", extra={"order_id": row["id"]})
            elif verdict.outcome is None:
                if fresh["status"] == "INTENT":
                    self.in_doubt.add(row["id"])  # still in doubt: asked again next time
            elif (verdict.cancel or _unconfirmed(verdict, gone)) and not await self._cancel(
                broker, fresh, "expired" if verdict.cancel else str(gone)
            ):
                # Not cancelled (no answer, or refused): still open, asked again next time;
                # what it filled meanwhile is booked now.
                if verdict.outcome.fills:
                    open_ = dataclasses.replace(verdict.outcome, status="OPEN", reason=None)
                    await self.book(row["id"], open_)
            else:
                await self.book(row["id"], verdict.outcome)

    async def _cancel(self, broker: Broker, row: asyncpg.Record, why: str) -> bool:
        """Cancel an order before it is closed ``why``: one the exchange still shows open past
        its expiry by our clock (which may run ahead of the exchange's), or one a lapse or a
        resolution should have cancelled that it shows nowhere — done, or held ``UNMATCHED``
        and shown nowhere all the same. True when the exchange cancelled it now or answered it
        holds no such order (done: expired, cancelled or matched since it was read — closed
        now, its late fills asked for as any closed order's; until 7 Dec 2026, session 45, an
        expired order's cancel so answered was a refusal, the order OPEN to the next pass:
        tests/execution/test_expiry_skew.py); False when it did not: no answer, or refused
        (then not asked again before its pause has passed), or a cancel switch is cancelling
        it right now."""
        with self.refused.sending([row["id"]]) as due:
            if not due:
                return False
            ids = list(order_ids(row))
            try:
                result: CancelResult = await self.access.call(broker.cancel(ids))
            except ExecutionError as exc:
                self.cancels_failing.failed(row["mode"], str(exc), order_id=row["id"])
                return False
            self.cancels_failing.passed(row["mode"])
            if not set(result.canceled).isdisjoint(ids) or not_held(result.not_canceled, ids):
                self.refused.closed(row["id"])
                return True
            words = "; ".join(sorted({result.not_canceled.get(i, "no answer") for i in ids}))
            refusal = Refusal(row["id"], row["strategy"], why, row["exchange_order_id"], words)
            await self.refused.refused([refusal])
            return False


# The closes inferred from what happened, not from a cancel's answer: confirmed by a cancel
# first (:meth:`OrderReconciler._cancel`).
_INFERRED = frozenset({HEARTBEAT_LAPSED, MARKET_RESOLVED})


def _unconfirmed(verdict: Verdict, gone: str | None) -> bool:
    """Whether ``verdict`` closes the order for an inferred ``gone`` — the switch's lapse, the
    market's resolution — and the order shown nowhere: an order the exchange holds
    ``UNMATCHED`` is shown nowhere too by an exchange that forgets done orders, and neither
    cancelled by the switch (the stand-in's reading: Polymarket does not say) nor done. Closed
    on the inference alone, its fill after the 15-minute look-back was never booked; the
    exchange is asked first (a cancel: refused while it holds it)."""
    outcome = verdict.outcome
    return (
        gone in _INFERRED
        and outcome is not None
        and outcome.status == "CANCELED"
        and outcome.reason == gone
    )


def _resolved_gone(rows: Iterable[asyncpg.Record]) -> dict[int, str]:
    """The open orders whose market's resolution is stored: the CLOB has cancelled them (it
    closes a market's book and cancels what rests on it before its resolution reaches the
    chain). One the exchange shows nowhere — an exchange that forgets a done order — is then
    done: closed CANCELED ``market_resolved`` with its fills so far, its late fills asked for
    (:func:`~orderflow.execution.settlement.settle`'s ``gone``), once a cancel of it is answered
    cancelled or not held (:func:`_unconfirmed`); it stayed OPEN until its expiry
    (up to 7 days), and held its position back from the settlement that long. One it still
    shows is read as shown."""
    return {
        row["id"]: MARKET_RESOLVED
        for row in rows
        if row["status"] == "OPEN" and row["market_resolved_at"] is not None
    }
