"""Never follow a leader in after it has left: its SELL in the same batch as its BUY (a
catch-up after a restart, a slow loop), and its SELL while our entry order still rests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    leading,
    now_true,
    running,
    signal_outcomes,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy, new_market

OTHER = "0x" + "0c" * 20


async def test_a_buy_sold_in_the_same_batch_is_not_followed(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The leader bought and sold before the executor read either (one batch): the BUY was
    followed and no exit came (exits read stored positions, and there was none yet), so the
    strategy held what its leader had already dumped."""
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
        await add_trade(conn, wallet=OTHER, side="SELL", price="0.50")  # not the leader
        await add_trade(conn, side="SELL", price="0.49")
    await ex.catch_up()
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "leader_exited")]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 0
    # The leader buys again after its sell: that entry is followed.
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50")
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    assert (await signal_outcomes(pool))[1:] == [("BUY", "EXECUTED", "filled")]


async def test_a_resting_buy_is_cancelled_when_its_leader_sells(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Our live BUY, placed to follow the whale, rested (nobody offered at its limit); the
    whale then sold the token. The BUY stayed on the book and could fill after the leader had
    left. It is cancelled now (reason ``leader_exited``); another wallet's sell, or the
    leader's sell of another token, leaves it alone."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # ask 0.90
            [oid] = await _resting(pool)
            await add_trade(conn, wallet=OTHER, side="SELL", token_id=TOKEN_NO, price="0.29")
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.70")
            await wait_for(lambda: _cursor_at_end(pool))
            await asyncio.sleep(0.5)  # a maintenance tick too
            assert clob.orders[oid]["status"] == "LIVE"
            await add_trade(conn, side="SELL", token_id=TOKEN_NO, outcome_index=1, price="0.29")

        async def cancelled() -> asyncpg.Record | None:
            return await pool.fetchrow(
                "SELECT status, status_reason FROM orderflow_orders WHERE status <> 'OPEN'"
            )

        order = await wait_for(cancelled)
    assert (order["status"], order["status_reason"]) == ("CANCELED", "leader_exited")
    assert clob.orders[oid]["status"] == "CANCELED"
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "leader_exited")]


async def test_entries_queued_when_the_leader_sells_are_not_sent(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Entries decided but still queued behind a slow exchange when their leader sells the
    token are dropped just before sending (SKIPPED ``leader_exited``), paper and live alike;
    the other entries go out."""
    await live_strategy(pool, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        async with pool.acquire() as conn:
            await add_strategy(conn, "zeta", maxOpenPositions=10)  # paper, queued behind
            await wait_for(lambda: now_true("zeta" in ex.registry.states))
            clob.path_delays["/order"] = 1.0
            market, token = await new_market(clob, conn, 1)  # no ask: rests
            await add_trade(conn, token_id=token, market=market, price="0.30")
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")
            await wait_for(lambda: now_true(clob.pending.get("/order", 0) > 0))
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
            await wait_for(lambda: _cursor_at_end(pool))
        await ex.worker.drain()
    rows = await pool.fetch(
        "SELECT strategy, token_id, status, reason FROM orderflow_signals ORDER BY strategy, id"
    )
    assert [(r["strategy"], int(r["token_id"]), r["status"], r["reason"]) for r in rows] == [
        ("live-one", token, "PENDING", "accepted"),
        ("live-one", TOKEN_YES, "SKIPPED", "leader_exited"),
        ("zeta", token, "PENDING", "accepted"),  # sent: resting on the paper book
        ("zeta", TOKEN_YES, "SKIPPED", "leader_exited"),
    ]
    assert [o["order"]["tokenId"] for o in clob.orders.values()] == [str(token)]


async def _resting(pool: asyncpg.Pool) -> list[str]:
    async def rows() -> list[str] | None:
        found = await pool.fetch(
            "SELECT exchange_order_id FROM orderflow_orders WHERE status = 'OPEN'"
        )
        return [r["exchange_order_id"] for r in found] or None

    result: list[str] = await wait_for(rows)
    return result


async def _cursor_at_end(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT min(c.last_trade_id) >= (SELECT max(id) FROM orderflow_trades)"
            " FROM orderflow_executor_cursors c"
        )
    )
