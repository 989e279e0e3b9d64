"""Settlement of live fills: a matched trade is not yet a trade that happened.

The CLOB reports a match at once (placement response, account trades) and the executor books the
fill then, but the trade still has to settle on chain: MATCHED → MINED → CONFIRMED, or, when its
transaction fails, RETRYING (resubmitted) and maybe FAILED for good (CONFIRMED and FAILED are the
final states; MATCHED_NOT_BROADCASTED also occurs in account listings). Each trade id of a booked
live fill has a row in ``orderflow_fill_trades``; every reconciliation pass asks the exchange
about the trades not final yet (``GET /data/trades?id=``, whatever the state of their order, FILLED
ones included) until they are final or the settlement horizon has passed (then they are given up
on with a warning, and stay booked). Paper fills too: their trade FAILED when a reorg took away
the level they took (:mod:`orderflow.execution.paper_trades`).

A FAILED trade books an exact reversal of what it had booked: a row of ``orderflow_fills`` with
``reverses`` = the fill, fill key ``<trade id>:reversal`` (the UNIQUE key books it once, also
across restarts), positive amounts. When the fill is that trade alone, or every other trade of a
placement fill has failed too, the reversal is the whole remainder of the fill (exact to the
micro-dollar); otherwise it is the failed trade's part as the trades endpoint reports it (shares
and collateral; the fee pro rata). Positions, the daily P&L and performance replay fills net of
reversals (view ``orderflow_net_fills``). The order's filled amounts go down by the same
amounts: an open order stays open (its unfilled part is still live), a FILLED order is open
again if the exchange shows it live, else CANCELED ``trade_failed`` (unknown — the exchange does
not answer — stays open: counted as exposure until the reconciliation closes it). A signal left
without any fill is SKIPPED ``trade_failed`` (PENDING while its order is still open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import order_queries, position_queries, wallet_share_queries
from orderflow.execution import trade_queries as tq
from orderflow.execution.broker import Broker, ExchangeFill, Mode, OrderOutcome, OrderStatus
from orderflow.execution.desk_access import LOOKUP_CONCURRENCY, DeskAccess
from orderflow.execution.log_pace import OutageLog
from orderflow.execution.positions import restate_position
from orderflow.execution.settlement import order_ids
from orderflow.signals.sizing import USDC_STEP

log = logging.getLogger(__name__)
REVERSAL_SUFFIX = ":reversal"


@dataclass(frozen=True, slots=True)
class Amounts:
    shares: Decimal
    usdc: Decimal
    fee: Decimal


def our_part(parts: Sequence[ExchangeFill]) -> Amounts:
    """Our share of one trade (summed when several of our orders are in it)."""
    zero = Decimal(0)
    return Amounts(
        sum((p.fill.shares for p in parts), zero),
        sum((p.fill.usdc for p in parts), zero),
        sum((p.fill.fee for p in parts), zero),
    )


def reversal_amounts(net: Amounts, part: Amounts, whole: bool) -> Amounts:
    """What a failed trade takes back from a booked fill (``net``: what is left of it).
    ``whole``: every trade of the fill has failed, so nothing of it may remain. Otherwise the
    trade's shares and collateral, and the fill's fee pro rata to the shares (a placement fill's
    fee was charged on its total; pro rata keeps what is left a valid fill)."""
    if whole or part.shares >= net.shares:
        return net
    fee = (net.fee * part.shares / net.shares).quantize(USDC_STEP, rounding=ROUND_DOWN)
    return Amounts(part.shares, min(part.usdc, net.usdc), fee)


def order_after_reversal(
    status: str, found: OrderOutcome | None, asked: bool
) -> tuple[OrderStatus | None, str | None]:
    """The order's status after a reversal (None: unchanged). Only a FILLED order changes: its
    failed part is no longer filled."""
    if status != "FILLED":
        return None, None  # open stays open, a closed one stays closed
    if not asked or (found is not None and found.status == "OPEN"):
        return "OPEN", "trade_failed"
    return "CANCELED", "trade_failed"


class TradeSettlement:
    """Follows the trades of booked live fills until final; reverses the ones that fail."""

    def __init__(
        self, desk: DeskAccess, *, clock: Callable[[], datetime], horizon: timedelta
    ) -> None:
        self.desk = desk
        self.clock = clock
        self.horizon = horizon
        # By mode, a trade's status read failing: at once, then a line a minute (of the desk's
        # clock) with the count since, and once when a pass's reads all pass.
        self.reads_failing = OutageLog(
            log,
            "trade status lookup failed",
            "trade status lookups pass again for the {key} fills after {failures} failed read(s)",
            lambda: self.clock().timestamp(),
        )

    async def track(self, strategy: str | None = None) -> None:
        """Ask about every trade not final yet; book what changed."""
        since = self.clock() - self.horizon
        async with self.desk.pool.acquire() as conn:
            for row in await tq.give_up(conn, since):
                log.warning(
                    "trade not settled within the horizon; kept as booked",
                    extra={
                        "order_id": row["order_id"],
                        "trade_id": row["trade_id"],
                        "status": row["status"],
                    },
                )
            rows = await tq.pending_trades(conn, since, strategy)
        gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)
        failed: dict[Mode, bool] = {}  # the modes read: whether a read failed

        async def one(row: asyncpg.Record) -> None:
            broker = self.desk.brokers.get(row["mode"])
            if broker is None:
                return
            async with gate:
                try:
                    parts: list[ExchangeFill] = await self.desk.call(
                        broker.trade(str(row["trade_id"]), order_ids(row))
                    )
                except ExecutionError as exc:
                    failed[row["mode"]] = True
                    self.reads_failing.failed(row["mode"], str(exc), trade_id=row["trade_id"])
                    return
                failed.setdefault(row["mode"], False)
            if not parts:
                return  # not shown (yet): asked again next time
            try:
                await self._update(broker, row, parts)
            except (asyncpg.PostgresError, ValueError):
                # One trade that cannot be booked must not hold up the others: logged, retried.
                log.exception("trade status not booked", extra={"trade_id": row["trade_id"]})

        await asyncio.gather(*(one(row) for row in rows))
        for mode, any_failed in failed.items():
            if not any_failed:
                self.reads_failing.passed(mode)

    async def _update(self, broker: Broker, row: asyncpg.Record, parts: list[ExchangeFill]) -> None:
        status = parts[0].fill.trade_status or str(row["status"])
        part = our_part(parts)
        if status == "FAILED":
            await self._reverse(broker, row, part)
            return
        if status == row["status"] and row["shares"] is not None:
            return
        async with self.desk.pool.acquire() as conn:
            await tq.set_trade_status(
                conn, row["order_id"], row["trade_id"], status, (part.shares, part.usdc, part.fee)
            )
        log.info(
            "trade status",
            extra={"order_id": row["order_id"], "trade_id": row["trade_id"], "status": status},
        )

    async def _reverse(self, broker: Broker, row: asyncpg.Record, part: Amounts) -> None:
        order_id = int(row["order_id"])
        async with self.desk.locked(order_id):
            async with self.desk.pool.acquire() as conn:
                order = await order_queries.order_row(conn, order_id)
            found, asked = None, False
            if order["status"] == "FILLED":
                with contextlib.suppress(ExecutionError):
                    found = await self.desk.call(broker.lookup(order_ids(order)))
                    asked = True
            async with self.desk.pool.acquire() as conn, conn.transaction():
                done = await self._book_reversal(conn, order, row, part, found, asked)
        if done is not None:
            log.warning(
                "trade failed on chain; fill reversed",
                extra={
                    "order_id": order_id,
                    "strategy": order["strategy"],
                    "trade_id": row["trade_id"],
                    "shares": str(done.shares),
                    "usdc": str(done.usdc),
                },
            )

    async def _book_reversal(
        self,
        conn: asyncpg.Connection,
        order: asyncpg.Record,
        row: asyncpg.Record,
        part: Amounts,
        found: OrderOutcome | None,
        asked: bool,
    ) -> Amounts | None:
        order_id, fill_id = int(order["id"]), int(row["fill_id"])
        trade_id = str(row["trade_id"])
        # First: a squaring of the wallet's shares of the token is waited for, not overtaken.
        await wallet_share_queries.lock_order(conn, order_id)
        await tq.set_trade_status(
            conn, order_id, trade_id, "FAILED", (part.shares, part.usdc, part.fee)
        )
        net = await tq.net_fill(conn, fill_id)
        if net is None:
            return None  # reversed in full already
        left = Amounts(Decimal(net["shares"]), Decimal(net["usdc"]), Decimal(net["fee"]))
        amounts = reversal_amounts(left, part, await tq.all_trades_failed(conn, fill_id))
        if amounts.shares <= 0:
            return None
        key = trade_id + REVERSAL_SUFFIX
        now = self.clock()  # the reversal's and the order's close: one instant
        if not await tq.insert_reversal(
            conn, fill_id, key, amounts.shares, amounts.usdc, amounts.fee, now
        ):
            return None  # booked before (a restart in between): never twice
        await restate_position(conn, int(net["position_id"]))
        status, reason = order_after_reversal(order["status"], found, asked)
        if status is not None:
            await tq.set_order_status(conn, order_id, status, reason, now)
        fresh = await order_queries.order_row(conn, order_id)
        if Decimal(fresh["filled_shares"]) <= 0:
            closed = fresh["status"] not in ("OPEN", "INTENT")
            await position_queries.set_signal_status(
                conn, order["signal_id"], "SKIPPED" if closed else "PENDING", "trade_failed"
            )
        return amounts
