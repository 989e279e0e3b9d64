"""A leader's BUY of the complement of a token we hold is two decisions: the exit of what we hold
(the leader left: :func:`orderflow.signals.exits.leaving`) and an entry into what it bought. Both
were stored under the trade's signal key (strategy, FOLLOW_WHALE, the trade's transaction and log
index): the exit, decided first, took it, and the entry was never recorded. While the position
is more than dust the entry is refused ``position_exists`` anyway; held as dust (under the
market's minimum: the exit SKIPPED ``exit_below_min_size``, the market open to a new entry) the
entry into the complement the leader bought was lost. An exit's signal is keyed by its side too
(migration 075): the BUY and the SELL of one trade are two signals."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def _complements(pool: asyncpg.Pool) -> None:
    for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
        await pool.execute(
            "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
            Decimal(token),
            Decimal(other),
        )


async def test_a_complement_buy_exiting_dust_is_followed_into_the_complement(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """3 shares of YES matched (minimum 5), the leader sold YES: the exit SKIPPED below the
    minimum, the rest cancelled, the 3 held to resolution. The leader then buys NO: its exit of
    YES is SKIPPED again, and the NO buy is followed as any leader's buy."""
    await live_strategy(pool)
    await _complements(pool)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(3)
    market.bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.left_behind.wait()
    await ex.maintenance()
    assert (await signal_outcomes(pool))[1] == ("SELL", "SKIPPED", "exit_below_min_size")
    assert await pool.fetchval("SELECT shares FROM orderflow_positions") == 3
    async with pool.acquire() as conn:
        buy_no = await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.90")
    await ex.catch_up()
    await ex.worker.drain()
    trade = await pool.fetchrow(
        "SELECT tx_hash, log_index FROM orderflow_trades WHERE id = $1", buy_no
    )
    rows = await pool.fetch(
        "SELECT side, token_id, status, reason FROM orderflow_signals"
        " WHERE tx_hash = $1 AND log_index = $2 ORDER BY id",
        trade["tx_hash"],
        trade["log_index"],
    )
    got = [(r["side"], int(r["token_id"]), r["status"], r["reason"]) for r in rows]
    assert got == [
        ("SELL", TOKEN_YES, "SKIPPED", "exit_below_min_size"),
        ("BUY", TOKEN_NO, "EXECUTED", "filled"),
    ], got
