"""The trading lock given up when its session has just been killed (a database restart, a
network cut): the executor steps down and stands by, it does not crash.

Right after PostgreSQL terminates a session, asyncpg is still reading the termination notice and
refuses any statement with InternalClientError ("another operation is in progress"). The lock's
release sent its unlock then and let that error out of the executor's step-down, which ended
the executor's task instead of standing it by (a CI run of test_loop's "loses its session" test
failed so: no signal for 30 s, the task dead with that error)."""

from __future__ import annotations

import asyncio

import asyncpg

from orderflow.execution.leader import LeaderLock

_ALIVE = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)"


async def test_release_right_after_the_session_was_killed(pool: asyncpg.Pool, dsn: str) -> None:
    # The notice races the release: every gap from none to a few loop turns, several times.
    for turns in (0, 0, 0, 1, 1, 2, 3, 5) * 12:
        lock = LeaderLock(dsn)
        assert await lock.try_acquire()
        assert lock._conn is not None
        pid = lock._conn.get_server_pid()
        await pool.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(turns):
            await asyncio.sleep(0)
        await lock.release()
        assert not lock.held
        # The next round's lock once this session is gone: a terminated backend lets go of its
        # locks as it exits, a moment after pg_terminate_backend returns (a loaded CI machine
        # let the next try_acquire in first: the clean-clone run of 6 Dec 2026).
        for _ in range(500):
            if not await pool.fetchval(_ALIVE, pid):
                break
            await asyncio.sleep(0.01)
    other = LeaderLock(dsn)
    try:
        for _ in range(100):  # the killed sessions' locks went with them
            if await other.try_acquire():
                break
            await asyncio.sleep(0.05)
        assert other.held
    finally:
        await other.release()


async def test_release_of_a_live_session_unlocks(dsn: str) -> None:
    lock, other = LeaderLock(dsn), LeaderLock(dsn)
    assert await lock.try_acquire()
    assert not await other.try_acquire()
    await lock.release()
    assert await other.try_acquire()
    await other.release()
