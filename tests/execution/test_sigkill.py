"""``orderflow execute`` killed with SIGKILL after the CLOB accepted an order and before its
answer reached us (so before anything but the intent was committed), then started again —
real processes, a real kill. The order becomes known from its own ids, counts in the
strategy's limits, and is never sent again; a kill issued while the executor was down (the
exchange down too at the restart) cancels it once the exchange answers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import asyncpg

from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import KEY, live_strategy


async def _execute(dsn: str, clob: FakeClob, tmp_path: Path) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=dsn,
        ORDERFLOW_DATA_DIR=str(tmp_path),
        HEALTH_PORT="0",
        LOG_FORMAT="text",
        POLY_PRIVATE_KEY=KEY,
        POLY_CLOB_URL=clob.url,
        EXECUTOR_HEARTBEAT_SECS="0.2",
        EXECUTOR_MAINTENANCE_SECS="0.5",
        EXECUTOR_LEADER_RETRY_SECS="0.2",
    )
    for name in ("EXECUTOR_STRATEGIES", "STRATEGY_NAME", "ENABLE_PAPER_TRADING"):
        env.pop(name, None)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orderflow",
        "execute",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _leading(pool: asyncpg.Pool, proc: asyncio.subprocess.Process) -> None:
    async def leader() -> bool:
        if proc.returncode is not None:
            raise AssertionError(f"execute exited {proc.returncode}")
        n = await pool.fetchval(
            "SELECT count(*) FROM orderflow_executor_heartbeats WHERE is_leader"
        )
        return bool(n)

    await wait_for(leader, timeout=60)


async def _stop(
    pool: asyncpg.Pool, proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM
) -> None:
    if proc.returncode is None:
        proc.send_signal(sig)
    await proc.wait()
    await pool.execute("DELETE FROM orderflow_executor_heartbeats")  # the next one's to come


def _posts(clob: FakeClob) -> int:
    return sum(1 for m, p in clob.requests if (m, p) == ("POST", "/order"))


async def test_sigkill_after_the_exchange_took_the_order(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, tmp_path: Path
) -> None:
    await live_strategy(pool)
    clob.response_delays["/order"] = 60.0  # processed at once, answered a minute later
    first = await _execute(dsn, clob, tmp_path)
    try:
        await _leading(pool, first)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests

        async def taken() -> bool:
            return len(clob.orders) == 1

        await wait_for(taken, timeout=60)
    finally:
        await _stop(pool, first, signal.SIGKILL)
    [(exchange_id, placed)] = clob.orders.items()
    assert placed["status"] == "LIVE"
    order = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert order["status"] == "INTENT" and order["exchange_order_id"] is None
    del clob.response_delays["/order"]

    # Restarted: the order is found by its own ids and counts — the leader's next buy of the
    # market is refused, not sent.
    second = await _execute(dsn, clob, tmp_path)
    try:
        await _leading(pool, second)

        async def adopted() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE status = 'OPEN' AND exchange_order_id = $1",
                exchange_id,
            )

        await wait_for(adopted, timeout=60)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")

        async def decided() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_signals WHERE id > $1 AND status <> 'PENDING'",
                order["signal_id"],
            )

        again = await wait_for(decided, timeout=60)
        assert again["reason"] == "position_exists", dict(again)
    finally:
        await _stop(pool, second, signal.SIGKILL)

    # Killed while the executor is down, and the exchange down at the restart: nothing is sent,
    # and the order is cancelled as soon as the exchange answers.
    await pool.execute("UPDATE orderflow_strategies SET killed = true WHERE name = 'live-one'")
    down = [clob.fail(method, "/", 503) for method in ("GET", "POST", "DELETE")]
    third = await _execute(dsn, clob, tmp_path)
    try:
        await _leading(pool, third)
        assert clob.orders[exchange_id]["status"] == "LIVE"
        for fault in down:
            fault.times = 0

        async def cancelled() -> asyncpg.Record | None:
            if third.returncode is not None:
                raise AssertionError(f"execute exited {third.returncode}")
            return await pool.fetchrow("SELECT * FROM orderflow_orders WHERE status = 'CANCELED'")

        row = await wait_for(cancelled, timeout=60)
    finally:
        await _stop(pool, third)
    assert clob.orders[exchange_id]["status"] == "CANCELED"
    assert (row["id"], row["status_reason"]) == (order["id"], "strategy_killed")
    assert _posts(clob) == 1
