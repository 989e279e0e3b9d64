"""A strategy switched between paper and live keeps the orders it placed in the other mode: each
rests where it was sent and is reconciled, counted and cancelled there. A kill cancels them in
both modes, each as soon as its own exchange answers: a live exchange that fails (or refuses
our key) does not hold back the paper orders' cancels, nor the reverse. An entry decided in one
mode and still queued when the strategy is switched to the other is not sent (``mode_changed``):
switched to paper, no live order goes out after the switch."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, follow, leading, now_true, running, wait_for
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

        row = await wait_for(cancelled)
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


@pytest.mark.parametrize("seen", [True, False])
async def test_an_entry_queued_live_is_not_sent_after_a_switch_to_paper(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    seen: bool,
) -> None:
    """Three entries decided live, the first on its way to a slow exchange, when the strategy is
    switched to paper — seen by the trading loop, or not yet (a busy loop: the desk reads the
    database before sending). The two queued went out live after the switch."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 2.0  # the first order takes two seconds to place
        await buys_in_new_markets(pool, clob, 3)

        async def decided() -> bool:
            n = await pool.fetchval(
                "SELECT count(*) FROM orderflow_signals WHERE status = 'PENDING'"
            )
            return bool(n == 3 and clob.pending.get("/order", 0) > 0)

        await wait_for(decided)
        state = ex.registry.states["live-one"]
        if not seen:

            async def busy(*_: object) -> list[object]:  # the loop has not come round to it
                return []

            async def busy_one(*_: object) -> None:
                return None

            monkeypatch.setattr(ex.registry, "refresh", busy)
            monkeypatch.setattr(ex.registry, "refresh_one", busy_one)
        await pool.execute(SWITCH, "live-one", "paper")
        if seen:
            await wait_for(lambda: now_true(state.settings.mode == "paper"))
        await ex.worker.drain()
        clob.path_delays.clear()
        assert state.settings.mode == ("paper" if seen else "live")
    assert clob.requests.count(("POST", "/order")) == 1
    rows = await pool.fetch("SELECT status, reason FROM orderflow_signals ORDER BY id")
    assert [(r["status"], r["reason"]) for r in rows][1:] == [("SKIPPED", "mode_changed")] * 2
    modes = await pool.fetch("SELECT mode FROM orderflow_orders ORDER BY id")
    assert [r["mode"] for r in modes][:1] == ["live"]
