"""An executor acts on the strategies it runs and no others: when a followed leader sells, only
the resting entries of its own strategies (``EXECUTOR_STRATEGIES`` / ``--strategy``) that
followed the leader are cancelled; another executor runs the rest and cancels its own."""

from __future__ import annotations

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def _resting(pool: asyncpg.Pool) -> dict[str, str]:
    rows = await pool.fetch(
        "SELECT strategy, exchange_order_id FROM orderflow_orders WHERE status = 'OPEN'"
    )
    return {r["strategy"]: r["exchange_order_id"] for r in rows}


async def test_a_leader_exit_cancels_only_the_entries_of_the_strategies_run_here(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha and beta each rest a live BUY following the whale; the whale sells. The executor
    that runs only alpha cancels alpha's entry, by its trading loop and by maintenance, and
    leaves beta's on the book: beta belongs to another executor (it used to cancel beta's
    too, in every maintenance pass)."""
    await live_strategy(pool, "alpha")
    await live_strategy(pool, "beta")
    both = live_executor(pool, dsn, live)
    await follow(pool, both, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # ask 0.90
    await both.worker.drain()
    resting = await _resting(pool)
    assert sorted(resting) == ["alpha", "beta"]
    only_alpha = live_executor(pool, dsn, live, EXECUTOR_STRATEGIES="alpha")
    await follow(pool, only_alpha, side="SELL", token_id=TOKEN_NO, outcome_index=1, price="0.29")
    await only_alpha.maintenance()
    await only_alpha.left_behind.wait()
    assert clob.orders[resting["alpha"]]["status"] == "CANCELED"
    assert clob.orders[resting["beta"]]["status"] == "LIVE"
    assert list(await _resting(pool)) == ["beta"]
