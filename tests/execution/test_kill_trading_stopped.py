"""Control (right before this test was written): a kill while the exchange takes no cancel — its
matching engine restarting (425 on every order route) or trading disabled (503 ``Trading is
currently disabled``: "No orders (including cancels) are accepted") — then a restart of the
executor while it still takes none, then the exchange back. The killed strategy places no order
(a leader's buy meanwhile is SKIPPED ``strategy_killed``, unsent), and every order it has at the
exchange — one acknowledged resting, one whose placement answer was lost (an intent in doubt) —
is cancelled once cancels pass again, each booked CANCELED ``strategy_killed``, nothing sent
twice. Against the stand-in's trading state (``FakeClob.trading``)."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, add_trade, leading, now_true, running, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


def _cancels_refused(clob: FakeClob) -> int:
    return clob.restricted.count(("DELETE", "/orders"))


@pytest.mark.parametrize("state", ["restarting", "disabled"])
async def test_a_kill_through_a_stopped_exchange_and_a_restart_cancels_everything_sends_nothing(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, state: str
) -> None:
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # rests
        await wait_for(
            lambda: pool.fetchval("SELECT id FROM orderflow_orders WHERE status = 'OPEN'")
        )
        clob.lose_next_response = True  # taken by the exchange, its answer lost
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 1)
            await add_trade(conn, token_id=token, market=market, price="0.30")
        await wait_for(lambda: now_true(len(clob.orders) == 2 and not clob.lose_next_response))
        assert all(o["status"] == "LIVE" for o in clob.orders.values())
        clob.trading = state
        await pool.execute("UPDATE orderflow_strategies SET killed = true")
        await wait_for(lambda: now_true(_cancels_refused(clob) >= 2))
    # Restarted while the exchange still takes no cancel; the leader buys again meanwhile.
    refused_before = _cancels_refused(clob)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            market, token = await new_market(clob, conn, 2)
            await add_trade(conn, token_id=token, market=market, price="0.30")
        await wait_for(
            lambda: pool.fetchval(
                "SELECT reason FROM orderflow_signals WHERE token_id = $1 AND status = 'SKIPPED'",
                token,
            )
        )
        await wait_for(lambda: now_true(_cancels_refused(clob) > refused_before))
        assert all(o["status"] == "LIVE" for o in clob.orders.values())
        clob.trading = None  # the exchange is back
        await wait_for(
            lambda: now_true(all(o["status"] == "CANCELED" for o in clob.orders.values()))
        )
        rows = await wait_for(
            lambda: _all_closed(pool),
        )
    assert [(r["status"], r["status_reason"]) for r in rows] == [
        ("CANCELED", "strategy_killed"),
        ("CANCELED", "strategy_killed"),
    ]
    assert {r["exchange_order_id"] for r in rows} == set(clob.orders)
    assert _posts(clob) == 2 and len(clob.orders) == 2  # nothing sent again, nothing new
    reason = await pool.fetchval("SELECT reason FROM orderflow_signals WHERE token_id = $1", token)
    assert reason == "strategy_killed", reason


async def _all_closed(pool: asyncpg.Pool) -> list[asyncpg.Record] | None:
    rows = await pool.fetch("SELECT * FROM orderflow_orders ORDER BY id")
    return list(rows) if rows and all(r["status"] == "CANCELED" for r in rows) else None
