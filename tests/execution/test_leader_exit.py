"""Never follow a leader in after it has left: its SELL in the same batch as its BUY (a
catch-up after a restart, a slow loop), and its SELL while our entry order still rests."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
)

OTHER = "0x" + "0c" * 20


async def _signals(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    rows = await pool.fetch("SELECT side, status, reason FROM orderflow_signals ORDER BY id")
    return [(r["side"], r["status"], r["reason"]) for r in rows]


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
    assert await _signals(pool) == [("BUY", "SKIPPED", "leader_exited")]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions") == 0
    # The leader buys again after its sell: that entry is followed.
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50")
    await ex.catch_up()
    assert (await _signals(pool))[1:] == [("BUY", "EXECUTED", "filled")]
