"""An executor that says it leads has said so in its heartbeat first: the operator reads the
heartbeat the moment anything learns the executor leads (tests/operator/test_executor_scope.py
read ``NoExecutorHeartbeat`` once on the clean-clone CI: ``leading`` was set before the leader's
heartbeat was written)."""

from __future__ import annotations

import contextlib

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import executor_settings, leading, running

_LEADS = "SELECT is_leader FROM orderflow_executor_heartbeats WHERE instance_id = $1"


async def test_the_leader_heartbeat_is_written_before_it_says_it_leads(
    pool: asyncpg.Pool, dsn: str
) -> None:
    ex = Executor(pool, dsn, executor_settings(), {"paper": PaperBroker(pool)})
    blocker = await asyncpg.connect(dsn)
    said_it_leads = None
    try:
        async with running(ex):
            # heartbeats can be read but not written while this transaction holds the table
            tx = blocker.transaction()
            await tx.start()
            try:
                await blocker.execute("LOCK TABLE orderflow_executor_heartbeats IN EXCLUSIVE MODE")
                with contextlib.suppress(TimeoutError):
                    await leading(ex, timeout=3.0)
                if ex.leading.is_set():  # it says it leads: what does its heartbeat say?
                    # (read on this connection: the pool's may all be waiting on the lock)
                    said_it_leads = bool(await blocker.fetchval(_LEADS, ex.settings.instance_id))
            finally:
                await tx.rollback()  # before the executor stops: its last beat waits on it
            await leading(ex)
            assert await pool.fetchval(_LEADS, ex.settings.instance_id)
    finally:
        await blocker.close()
    assert said_it_leads in (None, True), "leading was set before the leader's heartbeat"
