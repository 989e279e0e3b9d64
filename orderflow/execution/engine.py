"""The ``orderflow execute`` process: lock, listen, decide, trade, settle, report.

Loops of one executor:

* **leadership** — take the trading lock or stand by (:mod:`orderflow.execution.leader`);
* **trading** (leader only) — LISTEN on ``orderflow_trades`` and ``orderflow_strategies``; a
  trade notification wakes the loop within milliseconds, and without one it polls every
  ``poll_interval_secs`` (the seed's 3 s) plus sweeps recently inserted trades below the cursor
  (late commits: :mod:`orderflow.execution.trade_catch_up`). Strategy rows are re-read on
  their notification and every ``strategy_refresh_secs``;
* **cancel switches** (leader only) — a strategy that becomes killed, or is deleted, gets a task
  of its own that cancels its live orders at once and retries with backoff while the exchange
  fails (503, 429, no connection); nothing it meets stops the executor or the other strategies;
  the same for the entries of a strategy that becomes paused (its exits stay) and for entry
  orders whose leader has sold the token since (``leader_exited``):
  :mod:`orderflow.execution.cancel_switches`;
* **maintenance** (leader only, a task of its own so a slow exchange never delays a kill or a
  trade) — mark open positions, settle resolved ones, reconcile orders from the account's
  trades, re-arm the cancel switches of strategies with live orders to cancel, exit positions
  whose leader sold while the strategy held nothing yet (``Trader.late_exits``), update performance;
* **heartbeat** — a row in ``orderflow_executor_heartbeats`` (leader or standby), which the
  operator watches;
* **order heartbeat** (leader only, live) — the CLOB's dead man's switch, which cancels our open
  orders when the leader goes silent (:mod:`orderflow.execution.order_heartbeat`).

On becoming leader it first repairs what a crash may have left: accepted signals without an
order, and order intents the exchange may or may not have seen; maintenance repeats both, for
what an old leader left in the second before it noticed it had lost the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from orderflow import __version__, db
from orderflow.errors import DatabaseError
from orderflow.execution import (
    order_heartbeat,
    position_queries,
    strategy_queries,
)
from orderflow.execution.broker import Broker, Mode
from orderflow.execution.cancel_switches import CancelSwitches
from orderflow.execution.leader import LeaderLock
from orderflow.execution.log_pace import LogPace
from orderflow.execution.order_worker import OrderWorker
from orderflow.execution.orders import OrderDesk, utcnow
from orderflow.execution.performance import update_performance
from orderflow.execution.positions import settle_resolved, unsettle_stale
from orderflow.execution.redeem import redeem_winnings
from orderflow.execution.settings import ExecutorSettings
from orderflow.execution.strategies import StrategyRegistry
from orderflow.execution.trade_catch_up import TradeCatchUp
from orderflow.execution.trading import Trader
from orderflow.execution.wallet_audit import WalletAudit

log = logging.getLogger(__name__)

TRADES_CHANNEL = "orderflow_trades"
STRATEGIES_CHANNEL = "orderflow_strategies"
LOCK_CHECK_SECS = 1.0
# What a lost or restarted database looks like from asyncpg (a session killed while idle can
# surface as InternalClientError on its next use).
DB_ERRORS = (
    OSError,
    DatabaseError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


class Executor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        settings: ExecutorSettings,
        brokers: Mapping[Mode, Broker],
        *,
        desk: OrderDesk | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pool = pool
        self.dsn = dsn
        self.settings = settings
        self.brokers = brokers
        self.clock = clock
        self.registry = StrategyRegistry(settings.strategies)
        self.lock = LeaderLock(dsn)
        self.desk = desk or OrderDesk(
            pool,
            brokers,
            clock=clock,
            settlement_horizon_secs=settings.trade_settlement_horizon_secs,
        )
        self.worker = OrderWorker(pool, self.desk, clock=clock)
        self.trader = Trader(pool, self.worker)
        self.trades = TradeCatchUp(self.registry, self.trader, settings, clock)
        self.wallet_audit = WalletAudit(clock=clock)  # held live tokens read hourly, 2 a pass
        self.switches = CancelSwitches(
            self.desk.cancels, self.registry.wanted, self.registry.invalid
        )
        self.kills = self.switches.kills
        self.pauses = self.switches.pauses
        self.left_behind = self.switches.left_behind
        self.worker.after_send = self.switches.after_send
        self.desk.reconciler.invalid = self.registry.invalid
        self.trader.after_leader_exit = self.left_behind.request
        self._maintaining: asyncio.Task[None] | None = None
        self.is_leader = False
        self.leading = asyncio.Event()
        self._beat_lock = asyncio.Lock()
        self._beat_log = LogPace()  # a database outage: a line a minute, not one a beat
        self._wake = asyncio.Event()
        self._trades_notified = False
        self._strategy_names: set[str] = set()

    # ---------------------------------------------------------------- notifications

    def _on_trades(self, *_: Any) -> None:
        self._trades_notified = True
        self._wake.set()

    def _on_strategy(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._strategy_names.add(payload)
        self._wake.set()

    # ---------------------------------------------------------------- loops

    async def run(self) -> None:
        """Run until cancelled: stand by, lead when the lock is free, heartbeat throughout."""
        beat = asyncio.create_task(self._heartbeat_loop(), name="executor-heartbeat")
        try:
            while True:
                try:
                    acquired = await self.lock.try_acquire()
                except DatabaseError as exc:
                    log.error("cannot reach the database", extra={"error": str(exc)})
                    acquired = False
                if acquired:
                    try:
                        await self._lead()
                    except DB_ERRORS as exc:
                        # Step down and stand by again: a standby (or this process, once the
                        # database is back) takes over after repairing what was left.
                        log.error("stopped trading: database error", extra={"error": str(exc)})
                    except Exception:
                        # Anything else: step down too, rather than exit. A process that stays
                        # up takes the lead again and can still carry out a kill.
                        log.exception("stopped trading: unexpected error")
                    finally:
                        self.is_leader = False
                        self.leading.clear()
                        await self.lock.release()
                        await asyncio.shield(self.beat())
                await asyncio.sleep(self.settings.leader_retry_secs)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
            await self.lock.release()

    async def beat(self) -> None:
        """Write this instance's heartbeat row (also right after a change of role). One at a
        time, each saying the role at its turn: a beat held up in the database (a lock, a slow
        server) would otherwise land after the one that followed it, and a stand-by beat
        taken before the lock was won overwrote the leader's."""
        async with self._beat_lock:
            await self._beat()

    async def _beat(self) -> None:
        try:
            async with self.pool.acquire() as conn:
                await strategy_queries.heartbeat(
                    conn,
                    self.settings.instance_id,
                    is_leader=self.is_leader,
                    strategies=sorted(self.registry.states),
                    runs_only=sorted(self.registry.only),
                    version=__version__,
                )
        except DB_ERRORS as exc:
            if (failures := self._beat_log.failed()) is not None:
                log.warning("heartbeat failed", extra={"error": str(exc), "failures": failures})
            return
        if failures := self._beat_log.passed():
            log.info("heartbeat stored again", extra={"failures": failures})

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self.settings.heartbeat_secs)

    async def _lead(self) -> None:
        # from the start: a leader that took over continues the chain within the exchange's 10 s
        async with order_heartbeat.kept_alive(
            self.brokers.values(),
            self.settings,
            on_lapse=self.desk.reconciler.heartbeat_lapsed,
            clock=self.clock,
        ):
            await self._lead_listening()

    async def _lead_listening(self) -> None:
        listen = await db.connect(self.dsn)
        try:
            await listen.add_listener(TRADES_CHANNEL, self._on_trades)
            await listen.add_listener(STRATEGIES_CHANNEL, self._on_strategy)
            async with self.pool.acquire() as conn:
                await self.registry.refresh(conn)
            await self.close_orphans()
            await self.desk.reconcile()
            await self.trader.open_connection(self.dsn)
            self.worker.start()
            self.trades.restart()
            self.is_leader = True
            # the heartbeat says so before anything is told: the operator reads it as the proof
            # that the strategies are run
            await self.beat()
            self.leading.set()
            log.info("trading", extra={"strategies": sorted(self.registry.states)})
            await self._trading_loop()
        finally:
            await self._stop_maintenance()
            await self.switches.stop()
            await self.worker.stop()
            await self.trader.close_connection()
            with contextlib.suppress(Exception):
                await listen.close()

    async def _trading_loop(self) -> None:
        s = self.settings
        now = time.monotonic()
        next_poll = now  # catch up immediately
        next_refresh = now + s.strategy_refresh_secs
        next_maintenance = now
        next_lock_check = now
        while True:
            now = time.monotonic()
            # A maintenance pass still running is waited for by its end (it wakes the loop),
            # not by its due time: a due time in the past makes the wait zero, and the loop
            # would go round without awaiting anything, holding up every other task (an order
            # being placed and booked, a kill's cancel, the pass itself) until a refresh
            # awaits the database.
            waits = [next_poll, next_refresh, next_lock_check]
            if self._maintaining is None:
                waits.append(next_maintenance)
            timeout = max(0.0, min(waits) - now)
            if not self._wake.is_set() and timeout > 0:
                # not asyncio.wait_for: on Python 3.11 it loses a stop that lands as the wake-up
                # does (CPython gh-86296), and a stopped executor would trade on
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            self._wake.clear()
            now = time.monotonic()
            if now >= next_lock_check:
                # A round trip on the lock's session: at most once a second, not per trade.
                if not await self.lock.check():
                    return
                next_lock_check = now + LOCK_CHECK_SECS
            if self._strategy_names:
                names, self._strategy_names = self._strategy_names, set()
                async with self.pool.acquire() as conn:
                    changes = [await self.registry.refresh_one(conn, n) for n in sorted(names)]
                self.switches.act_on(c for c in changes if c is not None)
            if now >= next_refresh:
                async with self.pool.acquire() as conn:
                    self.switches.act_on(await self.registry.refresh(conn))
                next_refresh = now + s.strategy_refresh_secs
            polling = now >= next_poll
            if self._trades_notified or polling:
                self._trades_notified = False
                await self.catch_up(sweep=polling)
                if polling:
                    next_poll = time.monotonic() + s.poll_interval_secs
            if self._maintaining is not None and self._maintaining.done():
                task, self._maintaining = self._maintaining, None
                error = task.exception()
                if isinstance(error, DB_ERRORS):
                    raise error  # step down, as if the loop itself had met it
                if error is not None:
                    log.error("maintenance failed", exc_info=error)
            if now >= next_maintenance and self._maintaining is None:
                self._maintaining = asyncio.create_task(self.maintenance(), name="maintenance")
                self._maintaining.add_done_callback(lambda _: self._wake.set())
                next_maintenance = time.monotonic() + s.maintenance_interval_secs

    async def _stop_maintenance(self) -> None:
        task, self._maintaining = self._maintaining, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # ---------------------------------------------------------------- steps

    async def catch_up(self, *, sweep: bool = False) -> int:
        """Evaluate every trade past the strategies' cursors, and with ``sweep`` those that
        committed late below them; returns new signals (:class:`TradeCatchUp`)."""
        return await self.trades.catch_up(sweep=sweep)

    async def close_orphans(self) -> None:
        """Close accepted signals left without an order (only while holding the lock)."""
        pid = self.lock.pid
        if pid is not None:
            await self.trader.close_orphans(pid, self.lock.key)

    async def maintenance(self) -> None:
        async with self.pool.acquire() as conn:
            # A settlement whose resolution a reorg took back is undone first: marked as any
            # open position, and settled again at once if another resolution is stored.
            await unsettle_stale(conn)
            await position_queries.mark_open_positions(conn)
            await settle_resolved(conn, self.clock())
            # Killed, deleted or unknown strategies that still have live orders (an order
            # adopted by reconciliation after the kill, a deletion while the leader was away),
            # paused ones with live entries (paused while no executor ran), entries whose leader
            # has sold since: their switches (of the strategies this executor runs).
            await self.switches.rearm(conn)
        # Accepted signals an old leader stored without an intent in its last second.
        await self.close_orphans()
        await self.desk.reconcile()
        now = self.clock()
        # Positions whose leader sold while the strategy held nothing yet (after reconciling:
        # what a resting entry filled before its cancel is booked by then).
        for state in self.registry.active():
            await self.trader.late_exits(state, now)
        await self.wallet_audit.run(self.trader, self.registry.active())
        async with self.pool.acquire() as conn:
            for state in self.registry.active():
                await update_performance(conn, state.name, state.bankroll, now, self.trader.marks)
            # Last (a node or Gamma failing there holds up nothing else): winning live shares
            # redeemed once their resolution is final.
            s, live = self.settings, self.brokers.get("live")
            await redeem_winnings(conn, live, s.redeem, s.reorg_window_blocks, self.clock())
