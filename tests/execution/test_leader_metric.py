"""``orderflow_executor_leader``: 1 while this process holds the trading lock, 0 while it stands
by or after it lost the lock's session (the chart's OrderflowNoTradingLeader alert reads it)."""

from __future__ import annotations

import asyncpg

from orderflow.execution.leader import LeaderLock
from orderflow.telemetry import setup_metrics
from tests.execution.livekit import gauge_value


def leader_gauge() -> float:
    return gauge_value("orderflow_executor_leader")


async def test_the_gauge_follows_the_trading_lock(pool: asyncpg.Pool, dsn: str) -> None:
    setup_metrics("executor")
    other = await pool.acquire()  # another executor holds the lock: this one stands by
    try:
        await other.execute("SELECT pg_advisory_lock($1)", LeaderLock(dsn).key)
        lock = LeaderLock(dsn)
        assert not await lock.try_acquire()
        assert leader_gauge() == 0
        await other.execute("SELECT pg_advisory_unlock($1)", lock.key)
    finally:
        await pool.release(other)
    assert await lock.try_acquire()
    assert leader_gauge() == 1
    # the lock's session dies (a database restart, a network cut): no longer trading
    await pool.execute("SELECT pg_terminate_backend($1)", lock.pid)
    assert not await lock.check()
    assert leader_gauge() == 0
    assert await lock.try_acquire()
    assert leader_gauge() == 1
    await lock.release()
    assert leader_gauge() == 0
