"""Accepted signals on their way to the exchange: the order queue, its worker and its guard.

The trading loop decides and hands each accepted signal over as an :class:`OrderJob`; with the
worker running (the engine starts it while leading) jobs are queued and placed by a separate
task, so a slow exchange never delays the next signal. Without the worker (a backtest, a test
calling ``Trader.process`` directly) a job is placed as it is handed over.
Queued, exits go before entries (:mod:`orderflow.execution.order_queue`): an exit does not wait
for the entries handed over before it, nor for the one held for the signer's order bucket.

Until a job is placed, what it will do counts where the next decision looks: an entry's exposure
in ``inflight`` (the strategy's book, by signal id: it counts there until its intent is stored,
then as that order), an exit in ``exiting`` (no second exit of the position).
Just before sending, :meth:`OrderWorker.guard` checks the job again: a kill, a pause, a leader's
sell, a switch of the strategy's mode (an entry) or the signal's age since the decision refuse
it; and the desk decides an entry again under the strategy's limits as they stand
(:mod:`orderflow.execution.send_check`).

An order whose answer carried a ``Retry-After`` — refused for a rate limit (429), or left in
doubt by a 503 — holds every later order of its mode until it has passed (clamped by
:func:`~orderflow.execution.switch.retry_after_wait`, at most 30 s): asked again sooner, the
exchange only refuses again — an exit tried again after its 5 s pause met the same 429 while
the limit lasted, and the next entries after a 503 went straight into the same outage. The
guard is checked after the wait. Before that, the signer's order bucket as the answers report
it holds an order it cannot admit, and drops an entry it would hold past its signal's use
(:mod:`orderflow.execution.order_pacing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.errors import ExecutionError
from orderflow.execution import position_queries
from orderflow.execution.book import entry_exposure
from orderflow.execution.broker import Collateral, Mode, OrderRequest
from orderflow.execution.order_pacing import hold_for_bucket
from orderflow.execution.order_queue import OrderQueue
from orderflow.execution.orders import OrderDesk
from orderflow.execution.send_check import Entry
from orderflow.execution.signer_pacing import pacing_of
from orderflow.execution.strategies import StrategyState
from orderflow.execution.strategy_queries import MODE_CHANGED, Switches
from orderflow.execution.switch import retry_after_wait
from orderflow.signals.decide import Decision
from orderflow.signals.exits import after_on_chain
from orderflow.signals.sizing import booked_fee
from orderflow.signals.views import MarketView, OpenPosition, TradeView, WalletView

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrderJob:
    """An accepted signal to send as an order."""

    state: StrategyState
    signal_id: int
    trade: TradeView
    decision: Decision
    market: MarketView
    mode: Mode
    traceparent: str | None = None
    kills: int = 0  # the strategy's kills and halts when it was decided (see OrderWorker.guard)
    halts: int = 0
    seen: Switches | None = None  # the row's counts of them then (the desk's check: place)
    collateral: Collateral | None = None  # the wallet as the decision read it (a live entry's)
    wallet: WalletView | None = None  # the trade's wallet as an entry's decision saw it

    @property
    def entry(self) -> Entry | None:
        """An entry (BUY) as its decision saw it, which the desk decides again just before
        sending it (:mod:`orderflow.execution.send_check`); None: an exit."""
        if self.decision.side != "BUY" or self.wallet is None:
            return None
        return Entry(self.trade, self.wallet, self.market, self.decision.shares)

    @classmethod
    def decided(
        cls,
        state: StrategyState,
        signal_id: int,
        trade: TradeView,
        decision: Decision,
        market: MarketView,
        mode: Mode,
        traceparent: str | None,
        collateral: Collateral | None = None,
        wallet: WalletView | None = None,
    ) -> OrderJob:
        """A job for a decision taken now: the strategy's kills and halts as they stand."""
        return cls(
            state,
            signal_id,
            trade,
            decision,
            market,
            mode,
            traceparent,
            kills=state.kills,
            halts=state.halts,
            seen=state.seen,
            collateral=collateral,
            wallet=wallet,
        )


class OrderWorker:
    """Queues accepted signals and places them through the desk, one at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        desk: OrderDesk,
        *,
        queue_size: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.pool = pool
        self.desk = desk
        self.queue_size = queue_size
        self.clock = clock
        # Called with a strategy and the order's side once an order is placed or refused: one
        # that went out although the strategy was killed (or, an entry, paused) meanwhile is
        # cancelled by its switch (the engine's CancelSwitches.after_send).
        self.after_send: Callable[[StrategyState, str], None] | None = None
        # by strategy, then by signal id: an entry's exposure until its intent is stored
        self.inflight: dict[str, dict[int, OpenPosition]] = {}
        self.exiting: set[tuple[str, int]] = set()
        self.entries: dict[int, OrderJob] = {}  # BUY jobs on their way, by signal id
        self.left: set[int] = set()  # of those, the ones whose leader has sold since
        # Signals handed over and not yet placed or refused: not orphans (Trader.close_orphans)
        self.held: set[int] = set()
        self.busy_until: dict[Mode, float] = {}  # monotonic: no order of the mode sent before
        self._queue: OrderQueue | None = None
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = OrderQueue(maxsize=self.queue_size)
        self._worker = asyncio.create_task(self._work(self._queue), name="order-worker")

    async def stop(self) -> None:
        """Stop placing; queued signals stay PENDING without an order, and the next leader
        closes them (``interrupted_before_order``)."""
        worker, self._worker, self._queue = self._worker, None, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self.inflight.clear()
        self.exiting.clear()
        self.entries.clear()
        self.left.clear()
        self.held.clear()

    async def drain(self) -> None:
        if self._queue is not None:
            await self._queue.join()

    async def _work(self, queue: OrderQueue) -> None:
        while True:
            job, refused = await self._next(queue)
            try:
                await self._order(job, refused)
            except Exception:
                log.exception("order worker: unexpected error", extra={"signal_id": job.signal_id})
            finally:
                queue.task_done()

    async def _next(self, queue: OrderQueue) -> tuple[OrderJob, str | None]:
        """The next job to place (exits first: :mod:`orderflow.execution.order_queue`) once the
        signer's order bucket admits it, and the reason not to send it, if any. An entry held for
        the bucket while an exit was queued goes back to the head of the queue: the exit takes
        the token that came."""
        while True:
            job = await queue.get()
            refused = await self._admitted(job)
            if refused is not None or not queue.passed(job):
                return job, refused
            queue.put_back(job)  # still unfinished: task_done once it is placed or refused

    async def _admitted(self, job: OrderJob) -> str | None:
        """Hold ``job`` until the signer's order bucket admits it; the reason to drop it instead
        (an entry the bucket would hold past its use: :func:`hold_for_bucket`)."""
        pacing = pacing_of(self.desk.brokers.get(job.mode))
        return await hold_for_bucket(pacing, lambda: self.useful_for(job))

    async def dispatch(self, accepted: Sequence[OrderJob]) -> None:
        """Hand accepted signals to the order worker (or place them now, without one)."""
        # Every job counts in its strategy's book before anything is awaited (a full queue
        # waits below, and another decision may be taken meanwhile).
        self.held.update(job.signal_id for job in accepted)
        for job in accepted:
            trade, decision, state = job.trade, job.decision, job.state
            if decision.side == "BUY":
                self.entries[job.signal_id] = job
                self.inflight.setdefault(state.name, {})[job.signal_id] = entry_exposure(
                    trade, decision, job.market, state.settings
                )
        for job in accepted:
            if self._queue is not None:
                await self._queue.put(job)
            else:
                await self._order(job, await self._admitted(job))

    def live_entries_on_the_way(self) -> Decimal:
        """The cost of every strategy's live entries on their way (their exposure's cost)."""
        return sum(
            (
                exposure.cost
                for strategy in self.inflight.values()
                for signal_id, exposure in strategy.items()
                if (job := self.entries.get(signal_id)) is not None and job.mode == "live"
            ),
            Decimal(0),
        )

    def exits_on_the_way(self, strategy: str) -> frozenset[int]:
        """The tokens of ``strategy`` whose exit is decided and not yet placed."""
        return frozenset(token for name, token in self.exiting if name == strategy)

    def leader_sold(self, state: StrategyState, sells: Sequence[TradeView]) -> None:
        """A leader's sells against the strategy's entries on their way that followed it into
        the token: those are marked, and their guard refuses them (``leader_exited``). A sell
        counts after the followed buy on the chain (``after_on_chain``), as the stored checks
        (``orderflow.signals.market_queries.left_since``): a sale from before it, stored late, with
        the higher id, dropped the entry of a leader that had sold and bought back. ``sells``: the
        trades as their wallets leaving a token (a BUY of the complement read as the sale)."""
        for job in self.entries.values():
            if job.state.name != state.name:
                continue
            bought = job.trade
            if any(
                t.wallet == bought.wallet
                and t.token_id == bought.token_id
                and after_on_chain(t, bought)
                for t in sells
            ):
                self.left.add(job.signal_id)

    async def _order(self, job: OrderJob, refused: str | None) -> None:
        try:
            await self._place(job, refused)
        finally:
            self.held.discard(job.signal_id)
            state, token = job.state, job.trade.token_id
            if job.decision.side == "BUY":
                self.inflight.get(state.name, {}).pop(job.signal_id, None)
                self.entries.pop(job.signal_id, None)
                self.left.discard(job.signal_id)
            else:
                self.exiting.discard((state.name, token))
            if self.after_send is not None:
                self.after_send(state, job.decision.side)  # sent as a switch came: cancel it

    def guard(self, job: OrderJob) -> str | None:
        """Why a queued order must not go out now (None: send it): checked again just before
        sending, because a slow exchange can keep an order queued for seconds. A kill (or, for
        a BUY, a pause) since the decision refuses it too, even when it was lifted meanwhile:
        the order was decided before it. A BUY whose leader has sold the token since is not
        sent either (``leader_exited``), nor one decided in the mode the strategy has been
        switched from since (``mode_changed``: switched to paper, no live entry goes out)."""
        state, decision = job.state, job.decision
        if state.killed or state.kills != job.kills:
            return "strategy_killed"
        if decision.side == "BUY":
            if state.paused or state.error is not None or state.halts != job.halts:
                return "strategy_paused"
            if job.mode != state.settings.mode:  # switched since (to paper: no live entry)
                return MODE_CHANGED
            if job.signal_id in self.left:
                return "leader_exited"
            left = self.useful_for(job)
            if left is not None and left < 0:
                return "stale"
        return None

    def useful_for(self, job: OrderJob) -> float | None:
        """Seconds before an entry's signal is stale (the guard's ``max_signal_age_secs``);
        None for an exit, useful however late."""
        if job.decision.side != "BUY":
            return None
        age = (self.clock() - job.trade.timestamp).total_seconds()
        return job.state.settings.max_signal_age_secs - age

    async def _wait_retry_after(self, mode: Mode) -> None:
        """Wait until the exchange's last ``Retry-After`` for ``mode`` has passed."""
        until = self.busy_until.get(mode)
        if until is None:
            return
        wait = until - time.monotonic()
        if wait > 0:
            log.info(
                "order held: the exchange asked to wait (Retry-After)", extra={"wait_secs": wait}
            )
            await asyncio.sleep(wait)
        if self.busy_until.get(mode) == until:
            del self.busy_until[mode]

    def _hold(self, mode: Mode, retry_after: float) -> None:
        """The exchange asked for ``retry_after`` seconds: no order of ``mode`` before then."""
        self.busy_until[mode] = time.monotonic() + retry_after_wait(retry_after)

    async def _place(self, job: OrderJob, refused: str | None) -> None:
        """Place ``job``, held for the signer's order bucket already (``refused``: the bucket
        would hold it past its use, dropped). Any Retry-After is waited for before the guard (a
        kill meanwhile counts)."""
        state, signal_id, decision, market = job.state, job.signal_id, job.decision, job.market
        if refused is None:
            await self._wait_retry_after(job.mode)
            refused = self.guard(job)
        if refused is not None:
            # Paused, killed or stale after the decision, before the order: send nothing.
            async with self.pool.acquire() as conn:
                await position_queries.set_signal_status(conn, signal_id, "SKIPPED", refused)
            return
        assert decision.price is not None and market.last_price is not None
        fee = booked_fee(market, state.settings)  # what a fill is charged, as far as known
        request = OrderRequest(
            strategy=state.name,
            token_id=job.trade.token_id,
            side=decision.side,
            price=decision.price,
            shares=decision.shares,
            observed_price=market.last_price,
            market_id=job.trade.market_id,
            fee_rate=fee.rate,
            fee_exponent=fee.exponent,
            expires_in_secs=state.settings.order_ttl_secs,
        )
        try:
            await self.desk.place(
                mode=job.mode,
                signal_id=signal_id,
                request=request,
                traceparent=job.traceparent,
                guard=lambda: self.guard(job),
                seen=job.seen,
                hold=lambda secs: self._hold(job.mode, secs),
                collateral=job.collateral,
                entry=job.entry,
                useful_for=lambda: self.useful_for(job),
            )
        except ExecutionError as exc:
            log.error("order not placed", extra={"signal_id": signal_id, "error": str(exc)})
            async with self.pool.acquire() as conn:
                await position_queries.set_signal_status(
                    conn, signal_id, "SKIPPED", f"order_failed: {exc}"
                )
