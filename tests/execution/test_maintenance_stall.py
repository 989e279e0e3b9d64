"""A maintenance pass that outlasts its interval holds up nothing (engine._trading_loop).

The trading loop sleeps until its next due time: the poll, the strategies' refresh, the lock
check, the next maintenance pass. A pass still running at its due time left that time in the
past, so the loop's wait was zero and it went round without awaiting anything — a busy loop
that held the event loop until a refresh or a lock check awaited the database (every 0.5 s and
1 s). Every other task (the order worker placing and booking an entry, a kill's cancel, the pass
itself) moved one step per such await: an entry rested seconds late behind a slow pass, at 100 %
of a core. The pass is held here at its first statement by a lock the test takes on the table
it reads (a database statement held, as a slow database or exchange holds a step); the
trading loop now waits for its other due times, or for the pass to end."""

from __future__ import annotations

import asyncio

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

# What the first statement of a maintenance pass reads (positions.unsettle_stale's queue).
HELD_TABLE = "orderflow_settlements_to_check"


class CountingEvent(asyncio.Event):
    """The trading loop's wake-up event, counting the loop's rounds (it clears it once a
    round)."""

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0

    def clear(self) -> None:
        self.rounds += 1
        super().clear()


async def _maintenance_waits(pool: asyncpg.Pool) -> bool:
    """Whether a session waits for the lock the test holds (the maintenance pass)."""
    n = await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE relation = $1::regclass AND NOT granted",
        HELD_TABLE,
    )
    return bool(n)


async def test_an_entry_rests_while_a_maintenance_pass_is_held_and_the_loop_waits(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool, max_open_positions=10)
    # Due again at once: the held pass outlasts its interval from its first moment.
    ex = live_executor(pool, dsn, live, EXECUTOR_MAINTENANCE_SECS=0.01)
    wake = CountingEvent()
    ex._wake = wake
    async with pool.acquire() as holder:
        held = holder.transaction()
        await held.start()
        await holder.execute(f"LOCK TABLE {HELD_TABLE} IN ACCESS EXCLUSIVE MODE")
        async with running(ex):
            try:
                first = await _entry_rests_while_held(pool, ex, clob, wake)
            finally:
                await held.rollback()
            # Released, the pass ends and the loop takes its outcome (the next one starts).
            await wait_for(lambda: now_true(first.done() and ex._maintaining is not first))


async def _entry_rests_while_held(
    pool: asyncpg.Pool, ex: Executor, clob: FakeClob, wake: CountingEvent
) -> asyncio.Task[None]:
    """A live entry placed and resting while the maintenance pass waits for the held table;
    the pass."""
    await leading(ex)
    await wait_for(lambda: _maintenance_waits(pool))
    before = wake.rounds
    await buys_in_new_markets(pool, clob, 1)

    async def rests() -> asyncpg.Record | None:
        return await pool.fetchrow(
            "SELECT * FROM orderflow_orders WHERE status = 'OPEN' AND mode = 'live'"
        )

    order = await wait_for(rests)
    rounds = wake.rounds - before
    # The entry was placed and booked while the pass was still held (overlap).
    assert await _maintenance_waits(pool)
    held_pass = ex._maintaining
    assert held_pass is not None and not held_pass.done()
    assert clob.orders[order["exchange_order_id"]]["status"] == "LIVE"
    # The loop went round for what woke it (the trade's notification, a refresh, a lock
    # check: a handful), not millions of times for nothing.
    assert rounds < 100, f"the trading loop went round {rounds} times"
    return held_pass
