"""From a batch of new trades to stored signals and placed orders, for every strategy.

For each strategy: the trades past its cursor are pre-filtered cheaply (wallet score, size,
enabled rules), the survivors get market views and the strategy's book, and
:func:`orderflow.signals.evaluate` decides. Signals and the advanced cursor are committed in one
transaction, so a restart neither skips nor repeats a trade; the UNIQUE signal key makes a
replayed trade (late-commit sweep, a second executor) a no-op. Accepted signals are then sent as
orders, each intent stored before sending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow import db
from orderflow.errors import ExecutionError
from orderflow.execution import position_queries, strategy_queries
from orderflow.execution.book import Holdings, load_book_and_holdings, order_exposure
from orderflow.execution.broker import Mode, OrderRequest
from orderflow.execution.daypnl import DayMarks
from orderflow.execution.orders import OrderDesk
from orderflow.execution.strategies import StrategyState
from orderflow.execution.tracing import context_from, current_traceparent
from orderflow.signals import queries as signal_queries
from orderflow.signals.decide import Decision, evaluate
from orderflow.signals.exits import exit_decision
from orderflow.signals.views import (
    MarketView,
    OpenPosition,
    Side,
    StrategyBook,
    TradeView,
    WalletView,
)
from orderflow.strategy.settings import StrategySettings
from orderflow.telemetry import meter, tracer

log = logging.getLogger(__name__)
_tracer = tracer("orderflow.signals")
_signals = meter("orderflow.signals").create_counter(
    "orderflow_signals_total", description="Signals by type and status"
)
_latency = meter("orderflow.signals").create_histogram(
    "orderflow_signal_latency_seconds",
    unit="s",
    description="From the trade row's insert to its signal row (host clock vs database clock)",
)


def may_trigger(trade: TradeView, wallet: WalletView | None, settings: StrategySettings) -> bool:
    """Cheap pre-filter (no market data): can this fill be a signal for these settings?"""
    if wallet is None or wallet.score is None:
        return False
    if trade.usdc_size < Decimal(repr(settings.min_trigger_usd)):
        return False
    if trade.side == "BUY":
        return settings.enable_whale_following and wallet.score >= settings.min_whale_score
    return settings.enable_degen_fading and wallet.score <= settings.max_fade_score


def _with_position(book: StrategyBook, trade: TradeView, decision: Decision) -> StrategyBook:
    """The book as the next trade of the same batch must see it (the order is on its way)."""
    opened = OpenPosition(
        token_id=trade.token_id,
        market_id=trade.market_id,
        shares=decision.shares,
        cost=decision.size_usdc or Decimal(0),
    )
    return replace(book, open_positions={**book.open_positions, trade.token_id: opened})


@dataclass(frozen=True, slots=True)
class _Job:
    state: StrategyState
    signal_id: int
    trade: TradeView
    decision: Decision
    market: MarketView
    mode: Mode
    traceparent: str | None = None
    kills: int = 0  # the strategy's kills and halts when it was decided (see _guard)
    halts: int = 0

    @classmethod
    def decided(
        cls,
        state: StrategyState,
        signal_id: int,
        trade: TradeView,
        decision: Decision,
        market: MarketView,
        mode: Mode,
    ) -> _Job:
        """A job for a decision taken now: the strategy's kills and halts as they stand."""
        return cls(
            state, signal_id, trade, decision, market, mode, kills=state.kills, halts=state.halts
        )


class Trader:
    """Runs the decision pipeline for a batch of trades and hands accepted signals to the desk.

    With the order worker running (the engine starts it while leading), accepted signals are
    queued and placed by a separate task, so a slow exchange never delays the next signal; the
    orders on their way count in the strategy's book (``inflight``) until they are booked.
    Without the worker (a backtest, a test calling :meth:`process` directly) orders are placed
    before :meth:`process` returns.
    """

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
        self.marks = DayMarks()
        # Called with a strategy's name when an order of it went out although it was killed
        # meanwhile (the engine re-arms the kill switch).
        self.after_kill: Callable[[str], None] | None = None
        # Called with a strategy's name when a leader sold a token that live entry orders of
        # the strategy followed it into (the engine cancels them: leader_exited).
        self.after_leader_exit: Callable[[str], None] | None = None
        self.inflight: dict[str, dict[int, OpenPosition]] = {}
        self._queue: asyncio.Queue[_Job] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.conn: asyncpg.Connection | None = None
        self.exiting: set[tuple[str, int]] = set()
        self.entries: dict[int, _Job] = {}  # BUY jobs on their way, by signal id
        self.left: set[int] = set()  # of those, the ones whose leader has sold since
        self._traceparents: dict[int, str | None] = {}
        # One decision at a time: the trading loop's and maintenance's (late exits), so an exit
        # is decided knowing of any other recorded for the position.
        self._deciding = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """The signal path's connection: a dedicated one while leading, else one from the pool."""
        if self.conn is not None:
            yield self.conn
        else:
            async with self.pool.acquire() as conn:
                yield conn

    async def open_connection(self, dsn: str) -> None:
        """A dedicated connection for the decision path (fewer round trips per trade).

        Signals and the cursor commit together; losing such a commit in a crash loses both and
        the trades are evaluated again, so these commits need not wait for the WAL flush
        (``synchronous_commit = off``). Order intents go through the pool and commit
        synchronously, which flushes everything before them, before anything is sent.
        """
        conn = await db.connect(dsn)
        await conn.execute("SET synchronous_commit TO OFF")
        self.conn = conn

    async def close_connection(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    def start_worker(self) -> None:
        self._queue = asyncio.Queue(maxsize=self.queue_size)
        self._worker = asyncio.create_task(self._work(self._queue), name="order-worker")

    async def stop_worker(self) -> None:
        """Stop placing; queued signals stay PENDING and are closed on the next start-up."""
        worker, self._worker, self._queue = self._worker, None, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        self.inflight.clear()
        self.exiting.clear()
        self.entries.clear()
        self.left.clear()

    async def drain(self) -> None:
        if self._queue is not None:
            await self._queue.join()

    async def _work(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self._order(job)
            except Exception:
                log.exception("order worker: unexpected error", extra={"signal_id": job.signal_id})
            finally:
                queue.task_done()

    async def process(
        self,
        trades: Sequence[TradeView],
        strategies: Sequence[StrategyState],
        now: datetime,
        *,
        replay: bool = False,
    ) -> int:
        """Evaluate ``trades`` for every strategy; returns the number of new signals.

        ``replay``: the trades may be at or below the cursors (late-commit sweep); they are
        evaluated anyway and the signal key drops what was already recorded.
        """
        if not trades:
            return 0
        async with self.connection() as conn:
            wallets = await signal_queries.wallet_views(conn, {t.wallet for t in trades})
        created = 0
        for state in strategies:
            todo = [t for t in trades if replay or (t.id or 0) > state.cursor]
            if todo:
                created += await self._strategy(state, todo, wallets, now, replay=replay)
        return created

    async def _strategy(
        self,
        state: StrategyState,
        trades: Sequence[TradeView],
        wallets: dict[str, WalletView],
        now: datetime,
        *,
        replay: bool,
    ) -> int:
        settings = state.settings
        candidates = [t for t in trades if may_trigger(t, wallets.get(t.wallet), settings)]
        sells = [t for t in trades if t.side == "SELL"]
        accepted: list[_Job] = []
        created = 0
        left_live = False
        top = max((t.id or 0) for t in trades)
        async with self._deciding, self.connection() as conn, conn.transaction():
            if candidates or sells:
                book, holdings = await load_book_and_holdings(
                    conn, state, now, self.inflight.get(state.name), self.marks
                )
                left_live = self._leaders_sold(state, sells, holdings.following)
                exits = self._exits_of(state, sells, holdings)
                todo = {t.id: t for t in [*candidates, *exits]}
                window = settings.fade_window_secs if settings.enable_degen_fading else 0.0
                markets = await signal_queries.market_views(conn, list(todo.values()), window)
                created, accepted = await self._decide_exits(
                    conn, state, exits, markets, book, holdings, wallets, now
                )
                for trade in candidates:
                    wallet = wallets[trade.wallet]
                    market = markets[trade.id or 0]["BUY"]  # both signals buy: the asks
                    decision = evaluate(trade, wallet, market, book, settings, now)
                    if decision is None:
                        continue
                    signal_id = await self._record(conn, state, trade, wallet, decision)
                    if signal_id is None:
                        continue  # already recorded (a replay)
                    created += 1
                    if decision.accepted:
                        book = _with_position(book, trade, decision)
                        accepted.append(
                            _Job.decided(state, signal_id, trade, decision, market, settings.mode)
                        )
            if not replay:
                await strategy_queries.set_cursor(conn, state.name, top)
        if not replay:
            state.cursor = max(state.cursor, top)
        if left_live and self.after_leader_exit is not None:
            self.after_leader_exit(state.name)
        await self._dispatch(accepted)
        return created

    async def late_exits(self, state: StrategyState, now: datetime) -> int:
        """Exits a leader's sell did not make because the strategy held nothing when it was read
        (the entry past its last check, on its way; a resting entry's fill booked after the
        sell): every open FOLLOW_WHALE position whose leader has sold the token since the buy
        we followed, without an exit signal since, gets one now, triggered by the leader's
        latest such sell (maintenance calls this). One per position, across restarts: the
        exit signal is stored. Returns the number of new signals."""
        async with self.pool.acquire() as conn:
            if not await position_queries.unexited_sells(conn, state.name):
                return 0  # the usual answer, found without holding up the trading loop
        async with self._deciding, self.pool.acquire() as conn, conn.transaction():
            # Again, now that no other decision is under way (it may have made the exit).
            ids = await position_queries.unexited_sells(conn, state.name)
            if not ids:
                return 0
            sells = await signal_queries.trades_by_id(conn, ids)
            book, holdings = await load_book_and_holdings(
                conn, state, now, self.inflight.get(state.name), self.marks
            )
            exits = self._exits_of(state, sells, holdings)
            markets = await signal_queries.market_views(conn, exits, 0.0)
            wallets = await signal_queries.wallet_views(conn, {t.wallet for t in exits})
            created, accepted = await self._decide_exits(
                conn, state, exits, markets, book, holdings, wallets, now
            )
        await self._dispatch(accepted)
        return created

    def _exits_of(
        self, state: StrategyState, sells: Sequence[TradeView], holdings: Holdings
    ) -> list[TradeView]:
        """The sells by the leader of a held position, unless an exit of it is under way."""
        held = holdings.held
        return [
            t
            for t in sells
            if t.token_id in held
            and held[t.token_id].leader == t.wallet
            and t.token_id not in holdings.exiting
            and (state.name, t.token_id) not in self.exiting
        ]

    async def _decide_exits(
        self,
        conn: asyncpg.Connection,
        state: StrategyState,
        exits: Sequence[TradeView],
        markets: Mapping[int, Mapping[Side, MarketView]],
        book: StrategyBook,
        holdings: Holdings,
        wallets: Mapping[str, WalletView],
        now: datetime,
    ) -> tuple[int, list[_Job]]:
        """Decide and record the exits of ``exits`` (one per held token); the accepted ones as
        jobs to send."""
        held = dict(holdings.held)
        created = 0
        accepted: list[_Job] = []
        for trade in exits:
            market = markets[trade.id or 0]["SELL"]  # an exit meets the bids
            decision = exit_decision(
                trade, held.pop(trade.token_id, None), market, book, state.settings, now
            )
            if decision is None:
                continue
            wallet = wallets.get(trade.wallet) or WalletView(trade.wallet, None)
            signal_id = await self._record(conn, state, trade, wallet, decision)
            if signal_id is None:
                continue
            created += 1
            if decision.accepted:
                self.exiting.add((state.name, trade.token_id))
                # An exit goes where the position is (a live position is never closed on
                # paper, whatever the strategy's mode says now).
                mode = holdings.modes.get(trade.token_id, state.settings.mode)
                accepted.append(_Job.decided(state, signal_id, trade, decision, market, mode))
        return created, accepted

    async def _dispatch(self, accepted: Sequence[_Job]) -> None:
        """Hand accepted signals to the order worker (or place them now, without one)."""
        for job in accepted:
            trade, decision, state = job.trade, job.decision, job.state
            if decision.side == "BUY":
                self.entries[job.signal_id] = job
                self.inflight.setdefault(state.name, {})[trade.token_id] = order_exposure(
                    trade.token_id,
                    trade.market_id,
                    decision.shares,
                    decision.price or Decimal(0),
                    job.market.last_price,
                )
            job = replace(job, traceparent=self._traceparents.pop(job.signal_id, None))
            if self._queue is not None:
                await self._queue.put(job)
            else:
                await self._order(job)

    def _leaders_sold(
        self, state: StrategyState, sells: Sequence[TradeView], following: set[tuple[int, str]]
    ) -> bool:
        """A leader's sells against the strategy's entries that followed it into the token:
        those on their way are marked (their guard refuses them, ``leader_exited``); True when
        live orders of the strategy follow one of these leaders in its token (to cancel)."""
        for job in self.entries.values():
            if job.state.name != state.name:
                continue
            bought = job.trade
            if any(
                t.wallet == bought.wallet
                and t.token_id == bought.token_id
                and (t.id or 0) > (bought.id or 0)
                for t in sells
            ):
                self.left.add(job.signal_id)
        return any((t.token_id, t.wallet) in following for t in sells)

    async def _record(
        self,
        conn: asyncpg.Connection,
        state: StrategyState,
        trade: TradeView,
        wallet: WalletView,
        decision: Decision,
    ) -> int | None:
        """Store one decision under a span continuing the listener's trace."""
        with _tracer.start_as_current_span(
            "orderflow.signal",
            context=context_from(trade.traceparent),
            attributes={
                "orderflow.strategy": state.name,
                "orderflow.tx_hash": trade.tx_hash,
                "orderflow.log_index": trade.log_index,
            },
        ):
            traceparent = current_traceparent()
            signal_id = await signal_queries.insert_signal(
                conn, state.name, trade, wallet, decision, traceparent=traceparent
            )
        if signal_id is None:
            return None
        self._traceparents[signal_id] = traceparent
        _signals.add(1, {"type": decision.signal_type.value, "status": decision.status})
        if trade.inserted_at is not None:
            _latency.record(max(0.0, (datetime.now(UTC) - trade.inserted_at).total_seconds()))
        log.info(
            "signal",
            extra={
                "strategy": state.name,
                "signal_id": signal_id,
                "signal_type": decision.signal_type.value,
                "side": decision.side,
                "status": decision.status,
                "reason": decision.reason.value,
                "tx_hash": trade.tx_hash,
                "log_index": trade.log_index,
                "wallet": trade.wallet,
            },
        )
        return signal_id

    async def _order(self, job: _Job) -> None:
        try:
            await self._place(job)
        finally:
            state, token = job.state, job.trade.token_id
            if job.decision.side == "BUY":
                self.inflight.get(state.name, {}).pop(token, None)
                self.entries.pop(job.signal_id, None)
                self.left.discard(job.signal_id)
            else:
                self.exiting.discard((state.name, token))
            if state.killed and job.mode == "live" and self.after_kill is not None:
                self.after_kill(state.name)  # sent as the kill came: cancel it too

    def _guard(self, job: _Job) -> str | None:
        """Why a queued order must not go out now (None: send it): checked again just before
        sending, because a slow exchange can keep an order queued for seconds. A kill (or, for
        a BUY, a pause) since the decision refuses it too, even when it was lifted meanwhile:
        the order was decided before it. A BUY whose leader has sold the token since is not
        sent either (``leader_exited``)."""
        state, decision = job.state, job.decision
        if state.killed or state.kills != job.kills:
            return "strategy_killed"
        if decision.side == "BUY":
            if state.paused or state.error is not None or state.halts != job.halts:
                return "strategy_paused"
            if job.signal_id in self.left:
                return "leader_exited"
            age = (self.clock() - job.trade.timestamp).total_seconds()
            if age > state.settings.max_signal_age_secs:
                return "stale"
        return None

    async def _place(self, job: _Job) -> None:
        state, signal_id, decision, market = job.state, job.signal_id, job.decision, job.market
        refused = self._guard(job)
        if refused is not None:
            # Paused, killed or stale after the decision, before the order: send nothing.
            async with self.pool.acquire() as conn:
                await position_queries.set_signal_status(conn, signal_id, "SKIPPED", refused)
            return
        assert decision.price is not None and market.last_price is not None
        request = OrderRequest(
            strategy=state.name,
            token_id=job.trade.token_id,
            side=decision.side,
            price=decision.price,
            shares=decision.shares,
            observed_price=market.last_price,
            market_id=job.trade.market_id,
            fee_rate=Decimal(repr(state.settings.taker_fee_rate)),
        )
        try:
            await self.desk.place(
                mode=job.mode,
                signal_id=signal_id,
                request=request,
                traceparent=job.traceparent,
                guard=lambda: self._guard(job),
            )
        except ExecutionError as exc:
            log.error("order not placed", extra={"signal_id": signal_id, "error": str(exc)})
            async with self.pool.acquire() as conn:
                await position_queries.set_signal_status(
                    conn, signal_id, "SKIPPED", f"order_failed: {exc}"
                )
