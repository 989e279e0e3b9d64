"""A kill (or a pause) switched on and lifted again before the trading loop saw it still stops
the orders decided before it.

docs/executor.md ("Idempotent orders"): a kill (or, for a new position, a pause) after the
decision refuses the order even when it was lifted again while the order waited, and the
switches are read from the database just before sending because a loop busy with a large batch,
or waiting on a full order queue, has not yet seen them. Both checks saw only a switch still on:
the registry's counts moved only when the loop read the row while it was killed, and the
database check read the row's current values. A kill and its lift written while the loop was
busy left no trace, and the orders decided before the kill went out (measured: 3 POST /order
where 1, the order already on its way, was expected; for a kill and for a pause). Now the row
counts its kills and pauses (migration 083) and the check compares them with the counts the
decision was taken under.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy
from tests.execution.test_kill import three_decided


@pytest.mark.parametrize(
    ("switch", "reason"), [("killed", "strategy_killed"), ("paused", "strategy_paused")]
)
async def test_a_switch_lifted_before_the_busy_loop_saw_it_still_stops_queued_orders(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    switch: str,
    reason: str,
) -> None:
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0  # each order takes a second to place
        await three_decided(pool, clob)  # the first on its way, two queued
        state = ex.registry.states["live-one"]

        async def busy(*_: object) -> list[object]:  # the loop has not come round to it
            return []

        async def busy_one(*_: object) -> None:
            return None

        # The trading loop is busy (a large batch, a full order queue) while the operator
        # writes the switch on, and then off again.
        with monkeypatch.context() as m:
            m.setattr(ex.registry, "refresh", busy)
            m.setattr(ex.registry, "refresh_one", busy_one)
            await pool.execute(
                f"UPDATE orderflow_strategies SET {switch} = true, generation = generation + 1"
            )
            await pool.execute(
                f"UPDATE orderflow_strategies SET {switch} = false, generation = generation + 1"
            )
        # The loop comes round: it reads the row as it is now.
        await wait_for(
            lambda: now_true(
                state.generation == 3  # created at 1, then the switch on (2) and off (3)
            )
        )
        await ex.worker.drain()
        clob.path_delays.clear()
        posts = clob.requests.count(("POST", "/order"))
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    outcomes = [(r["status"], r["reason"]) for r in rows]
    assert posts == 1, (
        f"orders decided before the {switch} switch went out after it was lifted: {posts} "
        f"POST /order where 1 (the one already on its way) was expected; signals {outcomes}"
    )
    assert outcomes[1:] == [("SKIPPED", reason)] * 2
