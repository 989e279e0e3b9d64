"""Cancelling live orders: the kill switch's attempt, and entries whose leader has left.

``cancel_strategy`` is the kill switch's one attempt: every live order of the strategy (intents
in doubt included, by their candidate ids) while the strategy is killed — none once an unkill
has lifted it (the switch then ends: before, a switch kept going by an order the exchange
refused to cancel cancelled every order the revived strategy placed) — in parallel batches;
the engine retries it with backoff while the exchange fails (:mod:`orderflow.execution.switch`).
``cancel_paused`` is the pause switch's: the same for the strategy's entries (BUY) while it is
paused, or halted by settings that do not validate, and not killed — a halt stops new exposure;
its exits stay (booked ``strategy_paused``).
``cancel_left_behind`` is the same for the entry orders whose leader has sold the token since the
buy they followed. Each
order the exchange cancelled is booked CANCELED under its lock (through the desk's ``apply``),
then the strategy is reconciled: what filled before the cancel is booked.

An order the exchange answers ``not_canceled`` and still shows open afterwards (an order it holds
``UNMATCHED``, its delayed matching under way) is not cancelled by asking again every 2 s: the
desk's :class:`~orderflow.execution.cancel_pacing.RefusedCancels` paces it (2 s doubling to a
minute, for as long as it stays open: a killed strategy's live order is never given up), logs
its second refusal in a row as an error and counts each one — the same pace as reconciliation's
cancel of an order past its expiry, which it shares. The others — a new order — are cancelled
at the switch's next attempt. An open order the exchange answers it does not hold (``order can't
be found - already canceled or matched``: :func:`~orderflow.execution.broker.not_held`) is done
there — cancelled before (a kill's cancel whose answer a crash lost, at an exchange that forgets
cancelled orders), or matched: the reconciliation after the cancel closes it with the cancel's
reason when the exchange shows it nowhere either (:func:`~orderflow.execution.settlement.settle`,
``gone``), instead of refusing its cancel until its expiry.

The :class:`~orderflow.execution.orders.OrderDesk` owns one :class:`OrderCanceller` and lends it
its exchange call, its order locks, its booking (``apply``), its reconciliation and its refused
cancels' pacer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import order_queries, switch_queries
from orderflow.execution.broker import (
    CancelResult,
    CredentialsRefusedError,
    ExchangeBusyError,
    OrderOutcome,
    not_held,
)
from orderflow.execution.cancel_pacing import Refusal, RefusedCancels
from orderflow.execution.desk_access import DeskAccess
from orderflow.execution.settlement import order_ids
from orderflow.execution.signer_pacing import SignerPacing, pacing_of
from orderflow.signals.risk import Reason

log = logging.getLogger(__name__)
CANCEL_BATCH = 100  # order ids per cancel request (several requests go out in parallel)
# A switch's orders: (conn, statuses, strategy) -> those in statuses while the switch is on.
SwitchedOrders = Callable[[asyncpg.Connection, list[str], str], Awaitable[list[asyncpg.Record]]]
# A strategy's live orders a switch cancels (switch_queries.left_behind, unheld_exits)
StrategyOrders = Callable[[asyncpg.Connection, str], Awaitable[list[asyncpg.Record]]]


class OrderCanceller:
    """Cancels a strategy's live orders, and books what the exchange cancelled."""

    def __init__(
        self,
        desk: DeskAccess,
        *,
        book: Callable[[int, OrderOutcome], Awaitable[None]],
        reconcile: Callable[[str, Mapping[int, str]], Awaitable[None]],
        refused: RefusedCancels,
    ) -> None:
        self.desk = desk
        self.book = book  # book a sent order's outcome (the desk's apply)
        self.reconcile = reconcile  # reconcile one strategy's orders (the desk's)
        self.refused = refused  # the desk's refused cancels, shared with reconciliation
        # Order ids per cancel request, by mode: CANCEL_BATCH until the exchange refuses a
        # request as larger than its rate limit can ever admit (:meth:`_smaller_batches`), grown
        # back as the signer's cancel bucket shows it holds more (:meth:`_batch_size`).
        self.batch: dict[str, int] = {}
        self.killing: set[str] = set()  # strategies whose kill's cancels wait for the bucket

    async def cancel_strategy(self, strategy: str) -> int:
        """The kill switch's one attempt at cancelling every live order of ``strategy`` while
        it is killed; returns how many are still open afterwards (0 once the kill is lifted:
        the switch then ends, and an unkilled strategy keeps what it places). Raises
        :class:`ExecutionError` when the exchange fails (the engine retries with backoff)."""
        left = await self._cancel_while(strategy, switch_queries.killed_orders_in, Reason.KILLED)
        if left == 0:
            self.killing.discard(strategy)
        return left

    async def cancel_paused(self, strategy: str, invalid_at: int | None = None) -> int:
        """The pause switch's one attempt at cancelling the live entries (BUY) of ``strategy``
        while it is paused, or its row is still at generation ``invalid_at`` whose settings do
        not validate (halted as by a pause), and not killed (the kill cancels them); returns how
        many are still open afterwards (0 once it is resumed or its settings changed: it keeps
        what it places then). Its exits stay. Raises :class:`ExecutionError` when the exchange
        fails (the engine retries with backoff)."""

        async def entries(
            conn: asyncpg.Connection, statuses: list[str], name: str
        ) -> list[asyncpg.Record]:
            return await switch_queries.paused_entries_in(conn, statuses, name, invalid_at)

        return await self._cancel_while(strategy, entries, Reason.PAUSED)

    async def _cancel_while(self, strategy: str, orders: SwitchedOrders, reason: str) -> int:
        """Cancel the orders a switch reads (intents in doubt too), then count the open ones
        it reads still (none once the switch is lifted)."""
        async with self.desk.pool.acquire() as conn:
            rows = await orders(conn, ["OPEN", "INTENT"], strategy)
        await self._cancel(strategy, list(rows), reason)
        async with self.desk.pool.acquire() as conn:
            return len(await orders(conn, ["OPEN"], strategy))

    async def cancel_left_behind(self, strategy: str) -> int:
        """One attempt at cancelling ``strategy``'s live entry orders whose leader has sold
        the token since (``leader_exited``); returns how many still rest afterwards. Raises
        :class:`ExecutionError` when the exchange fails (the engine retries with backoff)."""
        return await self._cancel_read(strategy, switch_queries.left_behind, Reason.LEADER_EXITED)

    async def cancel_unheld(self, strategy: str) -> int:
        """One attempt at cancelling ``strategy``'s live exits for more shares than their
        position holds (its buy failed on chain: ``switch_queries.unheld_exits``); returns how
        many still rest afterwards. Raises :class:`ExecutionError` when the exchange fails."""
        return await self._cancel_read(strategy, switch_queries.unheld_exits, "trade_failed")

    async def _cancel_read(self, strategy: str, orders: StrategyOrders, reason: str) -> int:
        """Cancel the live orders ``orders`` reads for ``strategy`` (resting or in doubt), then
        count those it reads still resting."""
        async with self.desk.pool.acquire() as conn:
            rows = await orders(conn, strategy)
        await self._cancel(strategy, rows, reason)
        async with self.desk.pool.acquire() as conn:
            rows = await orders(conn, strategy)
        return sum(1 for r in rows if r["status"] == "OPEN")

    async def _cancel(self, strategy: str, live: list[asyncpg.Record], reason: str) -> None:
        """Cancel these live orders (intents in doubt by their candidate ids), in parallel
        batches; each one the exchange cancelled is CANCELED with ``reason``; then what filled
        before the cancel is booked and what was not cancelled settled (reconciliation). An
        order whose cancel the exchange refused is left out until its pause has passed."""
        ids = {r["id"] for r in live}  # the refusals of orders no longer among these: closed
        self.refused.closed_but(ids, strategy, reason)
        with self.refused.sending(ids) as due:
            await self._send(strategy, [r for r in live if r["id"] in due], reason)

    async def _send(self, strategy: str, live: list[asyncpg.Record], reason: str) -> None:
        """Cancel these orders (taken from the pacer: no other sender cancels them meanwhile),
        book what the exchange cancelled, reconcile, and note what it refused."""
        if not live:
            return
        cancelled: set[str] = set()
        answers: dict[str, str] = {}  # the exchange's reason for each id it did not cancel
        answered: set[str] = set()  # the modes whose exchange answered every cancel
        sent: set[str] = set()  # the ids asked (a kill's beyond the bucket wait for its refill)
        failed: list[ExecutionError] = []
        # Each mode on its own: a failing exchange (or our key refused there) holds back
        # neither the other mode's cancels nor the booking of what was cancelled.
        for mode in sorted({r["mode"] for r in live}):
            broker = self.desk.brokers.get(mode)
            if broker is None:
                continue
            ids = [oid for r in live if r["mode"] == mode for oid in order_ids(r)]
            size = self._batch_size(mode, pacing_of(broker))
            try:
                ids = self._admitted(pacing_of(broker), ids, strategy, reason)
            except ExchangeBusyError as exc:
                failed.append(exc)  # held: the switch asks again after the refill
                continue
            sent.update(ids)
            async with self.desk.pool.acquire() as conn:  # kept should the answer be lost
                sending = set(ids)
                asked = [r["id"] for r in live if not sending.isdisjoint(order_ids(r))]
                await order_queries.note_cancel_asked(conn, asked, reason)
            batches = [ids[i : i + size] for i in range(0, len(ids), size)]
            results = await asyncio.gather(
                *(self.desk.call(broker.cancel(b)) for b in batches), return_exceptions=True
            )
            self._smaller_batches(mode, batches, results)
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
        # Orders the exchange says it does not hold (done: cancelled, or matched with their
        # trades maybe listed late), which reconciliation closes if it shows them nowhere.
        gone = {
            r["id"]: reason
            for r in live
            if r["status"] == "OPEN" and not_held(answers, order_ids(r))
        }
        if answered:  # not into an exchange that failed every cancel (the switch retries)
            with contextlib.suppress(ExecutionError):
                await self.reconcile(strategy, gone)
        asked = [r for r in live if r["mode"] in answered and set(order_ids(r)) & sent]
        await self._note_refusals(strategy, asked, answers, reason)
        if failed:  # the switch retries: a refused key first (it is paced)
            failed.sort(key=lambda e: not isinstance(e, CredentialsRefusedError))
            raise failed[0]

    def _admitted(
        self, pacing: SignerPacing | None, ids: list[str], strategy: str, reason: str
    ) -> list[str]:
        """The ids to cancel now, as far as the signer's cancel bucket admits them (all when
        nothing is known of it): a kill's, as many as it holds now (the rest at the switch's
        next attempt); any other cancel — a leader's exit, a pause, an expiry — none while a
        kill's cancels wait for the bucket, or while the bucket cannot take them all (kills
        first). Raises :class:`ExchangeBusyError` with the refill's wait when none may go now."""
        kill = reason == Reason.KILLED
        if pacing is None or not ids:
            return ids
        if kill:
            self.killing.add(strategy)  # until all its ids go: the other cancels wait
        tokens = pacing.admits_now("cancel")
        if tokens is None or tokens >= len(ids):
            if kill or not self.killing:
                self.killing.discard(strategy)
                return ids
        elif kill and tokens >= 1:
            return ids[:tokens]
        elif kill and pacing.wait("cancel", 1) == 0:  # the refill not known: one, to learn it
            return ids[:1]
        elif not kill and not self.killing and pacing.wait("cancel", len(ids)) == 0:
            return ids  # the refill not known: they go, to learn it
        wait = max(pacing.wait("cancel", 1 if kill else len(ids)), 0.05)
        why = "refilling" if kill or not self.killing else "a kill's cancels first"
        raise ExchangeBusyError(
            f"cancel held: the signer's cancel bucket ({why})", retry_after=wait, status=429
        )

    def _batch_size(self, mode: str, pacing: SignerPacing | None) -> int:
        """Ids per cancel request: CANCEL_BATCH, or less since a refusal of a request larger
        than the bucket can hold — grown back to the largest request the bucket has shown it
        holds since (an admitted one's cost plus the tokens left), and to CANCEL_BATCH when the
        cancels are answered without the limiter's headers (no bucket)."""
        size = self.batch.get(mode)
        if size is None or pacing is None:
            return size or CANCEL_BATCH
        if "cancel" in pacing.unmetered:
            grown = CANCEL_BATCH
        else:
            grown = min(CANCEL_BATCH, max(size, pacing.capacity("cancel") or 0))
        if grown > size:
            log.warning(
                "the CLOB's cancel bucket holds more again: cancels go out %d at a time",
                grown,
                extra={"mode": mode, "batch": grown, "was": size},
            )
            self.batch[mode] = grown
        return grown

    def _smaller_batches(self, mode: str, batches: list[list[str]], results: list[object]) -> None:
        """The CLOB's per-signer limits admit a cancel request only whole, when its bucket holds
        a token for each id; one costing more than the bucket can ever hold (its tier's burst)
        is refused 429 *without* a ``Retry-After`` — split it, the exchange says, rather than
        send it again. Sent again as it was, a kill's cancel would be refused for good. So after
        such a refusal of a request of n ids, the mode's cancels go out n // 2 at a time (one
        at the least) until the bucket shows it holds more (:meth:`_batch_size`); a 429 with a
        ``Retry-After`` is waited out by the switch as before."""
        too_big = [
            len(b)
            for b, r in zip(batches, results, strict=True)
            if isinstance(r, ExchangeBusyError)
            and r.status == 429
            and r.retry_after is None
            and len(b) > 1
        ]
        if not too_big:
            return
        size = min(self.batch.get(mode, CANCEL_BATCH), max(1, max(too_big) // 2))
        log.warning(
            "the CLOB refused a cancel of %d orders for its rate limit without a Retry-After "
            "(more than its bucket can hold): cancels now go out %d at a time",
            max(too_big),
            size,
            extra={"mode": mode, "refused_batch": max(too_big), "batch": size},
        )
        self.batch[mode] = size

    async def _note_refusals(
        self, strategy: str, sent: list[asyncpg.Record], answers: Mapping[str, str], reason: str
    ) -> None:
        """Orders still open after their cancel (and the reconciliation after it) were refused
        by the exchange: paced, logged (an error at the second refusal in a row), counted."""
        async with self.desk.pool.acquire() as conn:
            current = await order_queries.order_rows(conn, [r["id"] for r in sent])
        refused: list[Refusal] = []
        for row in sent:
            fresh = current[row["id"]]
            if fresh["status"] != "OPEN":
                self.refused.closed(row["id"])
                continue
            exchange_id = fresh["exchange_order_id"]
            answer = answers.get(exchange_id, "no answer")
            refused.append(Refusal(row["id"], strategy, reason, exchange_id, answer))
        await self.refused.refused(refused)
