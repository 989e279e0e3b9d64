"""A leader that leaves by buying the complement has left.

On Polymarket a holder of YES can leave without selling it: it buys NO of the same condition
and merges the pair into collateral (the CTF's ``mergePositions``; the neg-risk adapter's for a
neg-risk market). Its trades show a BUY of NO, no SELL of YES — economically a sale of YES at
1 - the NO price. A FOLLOW_WHALE position exits when its leader sells the token; a leader that
left through the complement kept the position held to resolution: no exit, a resting entry not
cancelled, a later entry on the leader's old buy followed.

The rule (orderflow.signals.market_queries.left_since): a BUY of the token's complement by the
leader after the followed buy on the chain is an exit, whatever its size — as any SELL of the token
is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import asyncpg

from orderflow.execution import exit_queries, switch_queries
from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    signal_outcomes,
)

OTHER = "0x" + "0c" * 20
FOREIGN = 4242  # a token of another market


async def _market(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_token(conn, FOREIGN, MARKET_B, 0)
        for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(token),
                Decimal(other),
            )
        await add_wallet(conn, WHALE, 8.5)


async def _buy_no(conn: asyncpg.Connection, wallet: str = WHALE, usdc: str = "5") -> int:
    return await add_trade(
        conn, wallet=wallet, token_id=TOKEN_NO, outcome_index=1, price="0.52", usdc=usdc
    )


async def test_a_leader_buying_the_complement_is_exited_with(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """We hold YES the whale bought; another wallet's NO buy exits nothing; the whale's NO buy
    — any size, $5 here against its $500 of YES — is its leaving: the exit sells YES."""
    await _market(pool)
    ex = make_executor()
    await follow(pool, ex, price="0.50")
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await _buy_no(conn, wallet=OTHER)
    await ex.catch_up()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 0
    async with pool.acquire() as conn:
        trigger = await _buy_no(conn)
    await ex.catch_up()
    outcomes = await signal_outcomes(pool)
    assert [o[2] for o in outcomes if o[0] == "SELL"] == ["exit_with_leader"], outcomes
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert sell is not None and int(sell["token_id"]) == TOKEN_YES
    signal = await pool.fetchrow("SELECT * FROM orderflow_signals WHERE side = 'SELL'")
    row = await pool.fetchrow("SELECT * FROM orderflow_trades WHERE id = $1", trigger)
    assert (signal["tx_hash"], signal["log_index"]) == (row["tx_hash"], row["log_index"])
    assert int(signal["token_id"]) == TOKEN_YES
    assert signal["trigger_price"] == Decimal("0.48")  # YES sold at 1 - 0.52
    assert (await _exit_inputs(pool))["leader_bought_complement"] == str(TOKEN_NO)
    # Filled, the position is closed; the whale's next NO buy exits nothing more.
    assert await fill_resting(pool, ex) == 1
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    async with pool.acquire() as conn:
        await _buy_no(conn)
    await ex.catch_up()
    await ex.maintenance()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1


async def _exit_inputs(pool: asyncpg.Pool) -> dict[str, object]:
    raw = await pool.fetchval("SELECT inputs FROM orderflow_signals WHERE side = 'SELL'")
    inputs = json.loads(raw) if isinstance(raw, str) else raw
    return dict(inputs["exit"])


async def test_a_buy_left_through_the_complement_is_not_followed(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The whale bought YES and then NO before the executor read either: the YES buy is
    skipped ``leader_exited``, as when it sold YES."""
    await _market(pool)
    ex = make_executor()
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
        await _buy_no(conn)
    await ex.catch_up()
    assert (await signal_outcomes(pool))[0] == ("BUY", "SKIPPED", "leader_exited")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0


async def test_a_resting_entry_is_left_behind_and_a_late_fill_exited(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Our entry rests; the whale buys NO: the entry is one to cancel (left behind). Its fill
    booked after that buy (the cancel too late) is an exit owed: maintenance makes it. Another
    market's token bought by the whale is neither."""
    await _market(pool)
    ex = make_executor()
    entry = await follow(pool, ex, price="0.50")
    assert entry is not None
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=FOREIGN, market=MARKET_B, price="0.40", usdc="5")
        assert await switch_queries.left_behind(conn, "alpha") == []
        trigger = await _buy_no(conn)
        ex.trader.after_leader_exit = None  # the cancel comes too late: the entry fills first
        await ex.catch_up()  # nothing held yet: no exit
        assert [int(r["id"]) for r in await switch_queries.left_behind(conn, "alpha")] == [
            entry["id"]
        ]
    assert await fill_resting(pool, ex) >= 1  # it filled before the cancel
    async with pool.acquire() as conn:
        owed = await exit_queries.exits_tried(conn, "alpha")
    assert [(e.sell_id, e.tried) for e in owed] == [(trigger, 0)]
    await ex.maintenance()
    sells = await pool.fetch("SELECT token_id FROM orderflow_orders WHERE side = 'SELL'")
    assert [int(r["token_id"]) for r in sells] == [TOKEN_YES]


async def _in_block(conn: asyncpg.Connection, trade_id: int, block: int) -> None:
    await conn.execute(
        "UPDATE orderflow_trades SET block_number = $2, block_hash = $3 WHERE id = $1",
        trade_id,
        block,
        f"0x{block:064x}",
    )


async def test_a_complement_buy_before_the_followed_buy_stored_late_exits_nothing(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The position followed the whale's YES buy of block 100; its NO buy of block 95 is stored
    only now (its block read again after a retraction): it left, then came back — it holds YES.
    No exit, by the trading loop or maintenance. Its NO buy of block 105 exits."""
    await _market(pool)
    ex = make_executor()
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await _in_block(conn, await add_trade(conn, price="0.50"), 100)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await _in_block(conn, await _buy_no(conn), 95)
    await ex.catch_up()
    await ex.maintenance()
    assert [o for o in await signal_outcomes(pool) if o[0] == "SELL"] == []
    async with pool.acquire() as conn:
        await _in_block(conn, await _buy_no(conn), 105)
    await ex.catch_up()
    sells = [o[2] for o in await signal_outcomes(pool) if o[0] == "SELL"]
    assert sells == ["exit_with_leader"], sells
