"""Degraded follows the strategies the executor runs: a leader whose ``EXECUTOR_STRATEGIES``
leaves a strategy out never trades it, so that strategy's resource is not Running, however fresh
the leader's heartbeat. The heartbeats here come from a real executor."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from orderflow_operator.reconcile import Target, reconcile, refresh
from tests.execution.conftest import executor_settings, leading, running
from tests.operator.test_reconcile import cond

WHALE = Target("trading", "whale")


@pytest.mark.parametrize(
    ("only", "degraded", "reason", "state"),
    [
        ("", "False", "ExecutorAlive", "Running"),  # empty: every strategy
        ("fader,whale", "False", "ExecutorAlive", "Running"),
        ("fader", "True", "NotRunByExecutor", "Degraded"),
    ],
)
async def test_degraded_when_the_executor_does_not_run_the_strategy(
    pool: asyncpg.Pool, dsn: str, only: str, degraded: str, reason: str, state: str
) -> None:
    first = await reconcile(
        pool, WHALE, {}, generation=1, previous_status={}, stale_after_secs=30.0
    )
    ex = Executor(
        pool, dsn, executor_settings(EXECUTOR_STRATEGIES=only), {"paper": PaperBroker(pool)}
    )
    async with running(ex):
        await leading(ex)
        status = (
            await refresh(
                pool,
                WHALE,
                ready=first.ready,
                generation=1,
                previous_status=first.status,
                stale_after_secs=30.0,
            )
        ).status
    assert cond(status, "Degraded") == (degraded, reason)
    assert status["state"] == state
