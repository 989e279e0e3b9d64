"""A strategy switched between paper and live keeps the orders it placed in the other mode: each
rests where it was sent and is reconciled, counted and cancelled there. A kill cancels them in
both modes, each as soon as its own exchange answers: a live exchange that fails (or refuses
our key) does not hold back the paper orders' cancels, nor the reverse."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

SWITCH = (
    "UPDATE orderflow_strategies SET settings = settings || jsonb_build_object('mode', $2::text),"
    " generation = generation + 1 WHERE name = $1"
)


async def _resting(pool: asyncpg.Pool, mode: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT * FROM orderflow_orders WHERE mode = $1 AND status = 'OPEN'", mode
    )
    assert row is not None, f"no {mode} order resting"
    return row


@pytest.mark.parametrize("failing", [503, 401])
async def test_a_kill_cancels_the_paper_orders_while_the_live_exchange_fails(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, failing: int
) -> None:
    """Live, then switched to paper: one order rests at the CLOB, one on the paper exchange. The
    kill meets the CLOB failing its cancels (503), or refusing our key (401): the paper order
    stayed OPEN — its cancel not sent, or not booked — for as long as the CLOB failed, free to
    fill from the chain's depth after the kill."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    live_order = await _resting(pool, "live")
    await pool.execute(SWITCH, "live-one", "paper")
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    await buys_in_new_markets(pool, clob, 1)
    await ex.catch_up()
    paper_order = await _resting(pool, "paper")
    clob.fail("DELETE", "/", failing)
    await pool.execute("UPDATE orderflow_strategies SET killed = true WHERE name = 'live-one'")
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    ex.kills.request("live-one")
    try:

        async def cancelled() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT * FROM orderflow_orders WHERE id = $1 AND status = 'CANCELED'",
                paper_order["id"],
            )

        row = await wait_for(cancelled, timeout=10)
    finally:
        await ex.kills.stop()
    assert row["status_reason"] == "strategy_killed"
    paper = await pool.fetchrow(
        "SELECT canceled_at FROM orderflow_paper_orders WHERE order_key = $1",
        paper_order["client_order_id"],
    )
    assert paper is not None and paper["canceled_at"] is not None
    # The live order waits for its exchange, still counted.
    assert (
        await pool.fetchval("SELECT status FROM orderflow_orders WHERE id = $1", live_order["id"])
        == "OPEN"
    )
    assert clob.orders[live_order["exchange_order_id"]]["status"] == "LIVE"
