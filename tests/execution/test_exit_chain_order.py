"""A leader's sell is after its buy on the chain, whatever order the rows were stored in.

A file's ``removed: true`` line retracts one block's rows (``orderflow.chain.rollback``), and the
listener reads that block again later (``orderflow.chain.rereads``): its trades come back under
new ids, above those of every block stored meanwhile. The leader's buy in block 100, stored
again after its sell in block 105 was, had the higher id, and "sold since" compared ids: the
sell read as earlier than the buy. The buy was followed although its leader had already left
(``leader_exited`` missed), a resting entry was not cancelled, a filled one never exited by
maintenance. The order of two fills is their place on the chain: (block, log index).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from orderflow.chain.rollback import retract_block
from orderflow.execution.engine import Executor
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
    signal_outcomes,
    wait_for,
)

BUY_BLOCK, SELL_BLOCK = 100, 105


async def _setup(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)


async def _trade_in(conn: asyncpg.Connection, block: int, **trade: object) -> int:
    """A fill of the given block (the fixture stores block 1), at the block's own time."""
    now = datetime.now(UTC)
    at = now - timedelta(seconds=2 * (SELL_BLOCK + 5 - block))
    trade_id = await add_trade(conn, at=at, **trade)  # type: ignore[arg-type]
    await conn.execute(
        "UPDATE orderflow_trades SET block_number = $2, block_hash = $3 WHERE id = $1",
        trade_id,
        block,
        f"0x{block:064x}",
    )
    return trade_id


async def _buy(conn: asyncpg.Connection) -> int:
    return await _trade_in(conn, BUY_BLOCK, token_id=TOKEN_YES, price="0.50", usdc="600")


async def _sell(conn: asyncpg.Connection) -> int:
    return await _trade_in(conn, SELL_BLOCK, side="SELL", token_id=TOKEN_YES, price="0.48")


async def _retract_and_reread(pool: asyncpg.Pool, buy_id: int) -> int:
    """Block 100 retracted by a file's ``removed: true`` and read again by the listener: the
    same log, stored again under a new id (above the sell's). Returns the new id."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM orderflow_trades WHERE id = $1", buy_id)
        stats = await retract_block(conn, 137, BUY_BLOCK, row["block_hash"])
        assert stats.trades == 1
        new_id = int(
            await conn.fetchval(
                """
                INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number,
                    block_hash, timestamp, exchange, exchange_version, order_hash,
                    wallet_address, taker_address, is_taker_aggregate, side, token_id, market_id,
                    outcome_index, price, size, usdc_size, fee, fee_asset)
                SELECT chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
                       exchange, exchange_version, order_hash, wallet_address, taker_address,
                       is_taker_aggregate, side, token_id, market_id, outcome_index, price, size,
                       usdc_size, fee, fee_asset
                  FROM (SELECT ($1::orderflow_trades).*) r
                RETURNING id
                """,
                row,
            )
        )
    return new_id


async def test_a_buy_stored_again_after_the_leaders_sell_is_not_followed(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The trading loop reads the re-stored buy after the sell: the leader has left.
    On main the buy was followed (accepted: the sell's id was below the buy's)."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        buy_id = await _buy(conn)
        sell_id = await _sell(conn)
    assert await _retract_and_reread(pool, buy_id) > sell_id
    await ex.catch_up()
    buys = [o for o in await signal_outcomes(pool) if o[0] == "BUY"]
    assert buys == [("BUY", "SKIPPED", "leader_exited")], buys
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 0


async def test_the_leaders_sell_cancels_an_entry_whose_buy_was_stored_again(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The entry rests; block 100 is retracted, the sell of block 105 stored, block 100 read
    again. On main the entry rested on (``left_behind`` saw the sell as before the buy)."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        buy_id = await _buy(conn)
    await ex.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
    async with pool.acquire() as conn:
        sell_id = await _sell(conn)
    assert await _retract_and_reread(pool, buy_id) > sell_id
    await ex.catch_up()
    await ex.left_behind.wait()
    await ex.maintenance()  # maintenance looks for the entries left behind again
    await ex.left_behind.wait()
    order = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "leader_exited"), dict(order)


async def test_maintenance_exits_a_position_whose_buy_was_stored_again(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The entry filled; the sell was stored while block 100 was retracted (the trading loop
    read it with the position's trigger gone), then block 100 was read again. On main
    maintenance found no sell after the buy: no exit, the position held to resolution."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        buy_id = await _buy(conn)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        sell_id = await _sell(conn)
    assert await _retract_and_reread(pool, buy_id) > sell_id
    await ex.maintenance()

    async def exit_signal() -> list[tuple[str, str, str]]:
        return [o for o in await signal_outcomes(pool) if o[0] == "SELL"]

    sells = await wait_for(exit_signal)
    assert sells == [("SELL", "PENDING", "exit_with_leader")], sells
    await ex.catch_up()  # the trading loop reads the re-stored buy: no second exit
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1


async def _same_transaction(pool: asyncpg.Pool, buy_log: int, sell_log: int) -> None:
    """The whale's sell stored first, then its buy, both in one transaction of block 200 at the
    given log indexes (the ids say nothing of their order on the chain)."""
    at = datetime.now(UTC) - timedelta(seconds=2)
    async with pool.acquire() as conn:
        sell = await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48", at=at)
        buy = await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600", at=at)
        tx = await conn.fetchval("SELECT tx_hash FROM orderflow_trades WHERE id = $1", buy)
        for trade_id, log_index in ((sell, sell_log), (buy, buy_log)):
            await conn.execute(
                "UPDATE orderflow_trades SET block_number = 200, tx_hash = $2, log_index = $3"
                " WHERE id = $1",
                trade_id,
                tx,
                log_index,
            )


async def test_a_sell_after_the_buy_in_its_transaction_is_the_leader_leaving(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The sell is at log 9, the buy at log 5: the leader bought and sold; not followed. On
    main the buy's id was the higher: followed."""
    ex = make_executor()
    await _setup(pool, ex)
    await _same_transaction(pool, buy_log=5, sell_log=9)
    await ex.catch_up()
    buys = [o for o in await signal_outcomes(pool) if o[0] == "BUY"]
    assert buys == [("BUY", "SKIPPED", "leader_exited")], buys


async def test_a_sell_before_the_buy_in_its_transaction_is_not(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The sell is at log 2, the buy at log 5: the leader's last word is the buy; followed."""
    ex = make_executor()
    await _setup(pool, ex)
    await _same_transaction(pool, buy_log=5, sell_log=2)
    await ex.catch_up()
    buys = [o for o in await signal_outcomes(pool) if o[0] == "BUY"]
    assert buys == [("BUY", "PENDING", "accepted")], buys


async def test_a_sell_before_the_followed_buy_stored_late_exits_nothing(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The position followed the whale's buy of block 100; its sell of block 95 is stored only
    now (its block read again after a retraction): the whale sold, then bought — it holds the
    token. Its later sell, in block 105, exits."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await _buy(conn)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await _trade_in(conn, 95, side="SELL", token_id=TOKEN_YES, price="0.47")
    await ex.catch_up()
    await ex.maintenance()
    assert [o for o in await signal_outcomes(pool) if o[0] == "SELL"] == []
    async with pool.acquire() as conn:
        await _sell(conn)
    await ex.catch_up()
    sells = [o for o in await signal_outcomes(pool) if o[0] == "SELL"]
    assert sells == [("SELL", "PENDING", "exit_with_leader")], sells
