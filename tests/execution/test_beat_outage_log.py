"""The executor's own heartbeat row (``orderflow_executor_heartbeats``, every few seconds) through
a database outage: the failure is said at once, then at most once a minute with the count since
(:mod:`orderflow.execution.log_pace`), and once when the row is stored again — not a line per
beat (720 an hour at 5 s). The beats themselves go on as before."""

from __future__ import annotations

import logging
from collections.abc import Callable

import asyncpg
import pytest

from orderflow.execution import engine
from orderflow.execution.engine import Executor

BEATS = 100


class _Down:
    """A pool whose database is gone: every acquire refused."""

    def acquire(self) -> None:
        raise OSError("connection refused")


async def test_beats_failing_through_an_outage_log_once_then_their_return(
    pool: asyncpg.Pool,
    make_executor: Callable[..., Executor],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex = make_executor()
    caplog.set_level(logging.INFO, logger=engine.__name__)
    ex.pool = _Down()
    for _ in range(BEATS):
        await ex.beat()
    failed = [r for r in caplog.records if r.getMessage() == "heartbeat failed"]
    assert len(failed) == 1, f"{len(failed)} 'heartbeat failed' lines for {BEATS} beats"
    assert failed[0].__dict__["failures"] == 1 and "refused" in failed[0].__dict__["error"]
    ex.pool = pool
    await ex.beat()
    (back,) = [r for r in caplog.records if "heartbeat stored again" in r.getMessage()]
    assert back.__dict__["failures"] == BEATS
    assert await pool.fetchval("SELECT count(*) FROM orderflow_executor_heartbeats") == 1
