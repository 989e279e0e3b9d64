"""``orderflow listen`` killed with SIGKILL on its live store path, then run again: every fill
stored exactly once, the wallet counters counting each once.

A kill leaves no cleanup (the session's ``_keep_unstored`` never runs), so whatever exactly-once
rests on must already be in the database: a block's rows, its header and the checkpoint are one
transaction. Killed (1) while a store waits inside its transaction (on the writers' lock, which
the test holds), (2) right after a store committed, with a fill emitted while it is down.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import store_sql
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import canonical_fills, count_is, stored_trades
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.cli_env import orderflow_env

pytestmark = pytest.mark.anvil

WAITING_FOR_THE_LOCK = """
SELECT count(*) FROM pg_stat_activity
 WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_xact_lock%' AND pid <> $1
"""


def start(anvil: Anvil, dsn: str, tmp_path: Path, run: int) -> subprocess.Popen[bytes]:
    env = orderflow_env(
        dsn,
        tmp_path,
        POLYGON_RPC_URL=anvil.ws_url,
        HEALTH_PORT="0",
        CONFIRMATIONS="0",
        START_BLOCK="0",
        CONDITION_SYNC="false",
        RECONNECT_INITIAL_SECS="0.05",
    )
    out = (tmp_path / f"listen-{run}.log").open("wb")
    cmd = [sys.executable, "-m", "orderflow", "listen"]
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)


def kill_9(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


async def test_kill_9_in_and_after_a_live_store_then_rerun_stores_each_fill_once(
    anvil: Anvil, dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start(anvil, dsn, tmp_path, 1))
        await anvil.emit(order_filled_v2(order_hash=1))
        await wait_until(count_is(pool, 1), timeout=60, what="the first live fill")

        # (1) the next store waits inside its transaction for the writers' lock: killed there
        blocker = await pool.acquire()
        stall = blocker.transaction()
        await stall.start()
        await blocker.execute(store_sql.WRITER_LOCK)
        try:
            await anvil.emit(order_filled_v2(order_hash=2))
            await anvil.emit(order_filled_v2(order_hash=3))
            own = await blocker.fetchval("SELECT pg_backend_pid()")

            async def store_waiting() -> bool:
                return bool(await pool.fetchval(WAITING_FOR_THE_LOCK, own))

            await wait_until(store_waiting, what="a store waiting for the writers' lock")
            kill_9(procs[-1])
        finally:
            await stall.rollback()
            await pool.release(blocker)
        await asyncio.sleep(0.2)  # the killed backend's transaction goes with its connection
        assert len(await stored_trades(pool)) == 1

        # (2) killed right after a store committed; a fill is mined while it is down
        procs.append(start(anvil, dsn, tmp_path, 2))
        await wait_until(count_is(pool, 3), timeout=60, what="fills 2-3 after the rerun")
        await anvil.emit(order_filled_v2(order_hash=4))
        await wait_until(count_is(pool, 4), what="fill 4")
        kill_9(procs[-1])
        await anvil.emit(order_filled_v2(order_hash=5))

        procs.append(start(anvil, dsn, tmp_path, 3))
        await wait_until(count_is(pool, 5), timeout=60, what="fill 5 after the second rerun")
        await anvil.emit(order_filled_v2(order_hash=6))
        await wait_until(count_is(pool, 6), what="a live fill after it")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 6
