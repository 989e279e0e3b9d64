"""The long-running listener: sessions in a reconnect loop, and its readiness checks.

``Listener.run`` opens a WebSocket, runs a :class:`~orderflow.chain.live.LiveSession` until it
fails, and starts over after an exponential backoff with jitter (``RECONNECT_INITIAL_SECS``
doubling up to ``RECONNECT_MAX_SECS``; the delay resets once a session has streamed). Every new
session backfills from the checkpoint first, so a disconnect never leaves a gap.

What stops the loop: cancellation (SIGTERM in ``orderflow listen``), a :class:`FatalRpcError`
(wrong chain, bad key, unsupported method — retrying cannot help), a ReorgError deeper than the
window, or a database error that is not a lost connection. A cancellation swallowed on the way
(a library that catches ``CancelledError``, as Python 3.11's ``asyncio.wait_for`` did in the
WebSocket transport) still stops the loops here: before any retry they look at
``Task.cancelling()`` and stop instead of reconnecting forever (:func:`stop_if_cancelled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

import asyncpg

from orderflow.chain import index_recovery
from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.conditions import ConditionSync
from orderflow.chain.db_errors import TRANSIENT_DB_ERRORS
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.listener_state import ListenerState
from orderflow.chain.live import LiveSession
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport, redact_url
from orderflow.chain.rpc_ws import WsTransport
from orderflow.chain.settings import ListenerSettings
from orderflow.errors import ConfigError, RangeTooLargeError, RetryableRpcError
from orderflow.health import HealthServer

log = logging.getLogger(__name__)

# Failures a new connection can cure: the node, the network, or a lost database connection.
# Database failovers and restarts (57P01, 57P03, class 08, 40001/40P01 …) included.
_TRANSIENT: tuple[type[BaseException], ...] = (
    RetryableRpcError,
    RangeTooLargeError,
    *TRANSIENT_DB_ERRORS,
)


def stop_if_cancelled(loop: str) -> None:
    """Raise CancelledError when this task was asked to stop but the request got lost on the
    way (``Task.cancelling()`` counts requests even when something swallowed the exception)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        log.warning(
            "stop request was swallowed; stopping instead of retrying", extra={"loop": loop}
        )
        raise asyncio.CancelledError


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with jitter: between half and all of min(max, initial * 2**attempt)."""
    ceiling = min(maximum, initial * float(1 << min(attempt, 32)))
    return ceiling * random.uniform(0.5, 1.0)


class Listener:
    """Live + backfill ingestion of Polymarket logs into PostgreSQL, until cancelled."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: ListenerSettings,
        *,
        metrics: IngestMetrics | None = None,
    ) -> None:
        if settings.polygon_rpc_url is None:
            raise ConfigError(
                "POLYGON_RPC_URL is not set: live listening needs a WebSocket endpoint "
                "(ws:// or wss://); to import a file instead use --from-file"
            )
        self.pool = pool
        self.settings = settings
        self.metrics = metrics or IngestMetrics()
        self.state = ListenerState()
        self.window = BlockWindow(settings.reorg_window_blocks)
        self.ranges = AdaptiveRange(
            settings.getlogs_initial_blocks,
            settings.getlogs_min_blocks,
            settings.getlogs_max_blocks,
        )
        self._ws_url = settings.polygon_rpc_url.get_secret_value()
        self.endpoint = redact_url(self._ws_url)

    async def run(self) -> None:
        """Sessions until cancelled or a fatal error; the condition sync runs beside them."""
        sync = (
            asyncio.create_task(self._sync_conditions(), name="condition-sync")
            if self.settings.condition_sync
            else None
        )
        sessions = asyncio.create_task(self._sessions(), name="listener-sessions")
        # the indexes a killed bulk import left out: built beside the sessions, never in them
        indexes = asyncio.create_task(
            index_recovery.recover_forever(self.pool, self.metrics.unindexed_partitions.set),
            name="index-recovery",
        )
        try:
            if sync is not None:
                await asyncio.wait({sync, sessions}, return_when=asyncio.FIRST_EXCEPTION)
                if sync.done() and not sync.cancelled() and sync.exception() is not None:
                    raise sync.exception()  # type: ignore[misc]
            await sessions
        finally:
            for task in (sync, sessions, indexes):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _sync_conditions(self) -> None:
        """The one-time condition sync, retried with backoff until it completes."""
        attempt = 0
        while True:
            transport: WsTransport | HttpTransport = (
                HttpTransport(
                    self.settings.polygon_http_url.get_secret_value(),
                    timeout_secs=self.settings.rpc_timeout_secs,
                )
                if self.settings.polygon_http_url is not None
                else WsTransport(
                    self._ws_url,
                    timeout_secs=self.settings.rpc_timeout_secs,
                    queue_size=self.settings.queue_size,
                )
            )
            try:
                if isinstance(transport, WsTransport):
                    await transport.connect()
                sync = ConditionSync(
                    self.pool,
                    EthClient(transport),
                    self.settings,
                    metrics=self.metrics,
                    stated=self.ranges.stated,
                )
                await sync.run()
                self.state.conditions_synced = True
                return
            except _TRANSIENT as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                if isinstance(transport, WsTransport):
                    await transport.close()
                else:
                    await transport.aclose()
            stop_if_cancelled("condition sync")
            delay = backoff_delay(
                attempt, self.settings.reconnect_initial_secs, self.settings.reconnect_max_secs
            )
            attempt += 1
            log.warning(
                "condition sync interrupted; resuming from its checkpoint",
                extra={"reason": reason, "delay_secs": round(delay, 3), "attempt": attempt},
            )
            await asyncio.sleep(delay)

    async def _sessions(self) -> None:
        attempt = 0
        while True:
            ws = WsTransport(
                self._ws_url,
                timeout_secs=self.settings.rpc_timeout_secs,
                queue_size=self.settings.queue_size,
            )
            http = (
                HttpTransport(
                    self.settings.polygon_http_url.get_secret_value(),
                    timeout_secs=self.settings.rpc_timeout_secs,
                )
                if self.settings.polygon_http_url is not None
                else None
            )
            self.state.sessions += 1
            reason = "session ended"
            try:
                await ws.connect()
                self.state.connected = True
                log.info("connected", extra={"endpoint": self.endpoint})
                session = LiveSession(
                    self.pool,
                    ws,
                    EthClient(http or ws),
                    self.settings,
                    state=self.state,
                    metrics=self.metrics,
                    window=self.window,
                    ranges=self.ranges,
                )
                await session.run()
            except _TRANSIENT as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                streamed = self.state.streaming
                self.state.connected = False
                self.state.streaming = False
                await ws.close()
                if http is not None:
                    await http.aclose()
            stop_if_cancelled("listener sessions")
            if streamed:
                attempt = 0
            delay = backoff_delay(
                attempt, self.settings.reconnect_initial_secs, self.settings.reconnect_max_secs
            )
            attempt += 1
            self.state.reconnects += 1
            self.metrics.reconnects.add(1)
            log.warning(
                "listener session ended; reconnecting",
                extra={"reason": reason, "delay_secs": round(delay, 3), "attempt": attempt},
            )
            await asyncio.sleep(delay)

    # --- readiness ------------------------------------------------------------------------------

    async def check_database(self) -> tuple[bool, str]:
        try:
            await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            return False, f"database unreachable: {type(exc).__name__}"
        return True, "database reachable"

    async def check_head_lag(self) -> tuple[bool, str]:
        state = self.state
        if state.head is None or state.head_seen_at is None or state.lag is None:
            return False, "not synchronised yet (no head or no checkpoint)"
        age = time.monotonic() - state.head_seen_at
        if age > self.settings.silence_timeout_secs:
            return False, f"no new head for {age:.0f}s (node {self.endpoint})"
        limit = self.settings.ready_max_head_lag_blocks
        detail = f"head {state.head}, checkpoint {state.checkpoint}, lag {state.lag} (max {limit})"
        return state.lag <= limit, detail

    def register_checks(self, health: HealthServer) -> None:
        health.add_check("database", self.check_database)
        health.add_check("head_lag", self.check_head_lag)


async def run_with_health(listener: Listener, port: int) -> None:
    """Run the listener with /healthz, /readyz and /metrics on ``port`` (0 = no server)."""
    health = HealthServer(port) if port else None
    if health is not None:
        listener.register_checks(health)
        await health.start()
    try:
        await listener.run()
    finally:
        if health is not None:
            with contextlib.suppress(Exception):
                await health.stop()
