"""One trader: a PostgreSQL session advisory lock decides which executor trades.

Every executor tries ``pg_try_advisory_lock`` on its own connection; the one that gets it trades,
the others stand by and retry every ``leader_retry_secs``. The lock belongs to the session, so
when the leader dies (or its connection drops) PostgreSQL releases it and a standby takes over.
A leader checks its lock connection before each step and stops trading the moment it is gone.
``orderflow_executor_leader`` on /metrics says which pod trades (the chart's
OrderflowNoTradingLeader alert: executors up, none trading).
"""

from __future__ import annotations

import logging

import asyncpg

from orderflow import db, telemetry

log = logging.getLogger(__name__)

_leading = telemetry.meter("orderflow.execution").create_gauge(
    "orderflow_executor_leader",
    description="1 while this executor holds the trading lock (it trades), 0 while it stands by",
)

# What a statement on the lock's session raises when the session is gone or unusable.
_LOST = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)

# Fixed key shared by every executor on a database: "orderflow.execute" folded to 63 bits.
EXECUTOR_LOCK_KEY = 0x6F72_6465_7865_6375


class LeaderLock:
    def __init__(self, dsn: str, key: int = EXECUTOR_LOCK_KEY) -> None:
        self.dsn = dsn
        self.key = key
        self._conn: asyncpg.Connection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def pid(self) -> int | None:
        """The server process of the lock's session (None: not held)."""
        return self._conn.get_server_pid() if self._conn is not None and self.held else None

    async def try_acquire(self) -> bool:
        if self.held:
            return True
        conn = await db.connect(self.dsn)
        try:
            got = bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key))
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            _leading.set(0)
            return False
        self._conn = conn
        _leading.set(1)
        log.info("took the trading lock")
        return True

    async def check(self) -> bool:
        """True while the lock's session is alive."""
        if self._conn is None:
            return False
        try:
            await self._conn.fetchval("SELECT 1")
            return True
        except _LOST:
            log.error("lost the trading lock's connection")
            await self.release()
            return False

    async def release(self) -> None:
        """Give the lock up. A session that is gone or unusable (its termination notice still
        being read: asyncpg then refuses any statement with InternalClientError) is dropped:
        PostgreSQL releases a session's locks with the session."""
        conn, self._conn = self._conn, None
        _leading.set(0)
        if conn is None or conn.is_closed():
            return
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", self.key)
        except _LOST:
            conn.terminate()
            return
        await conn.close()
