"""A followed buy a reorg moved to another block is still the entry's trigger.

A reorg deletes the trades of the orphaned blocks (``orderflow.chain.rollback``) and the listener
stores the canonical chain's again: the whale's transaction, included in another block, comes
back under a new id and, the block's logs being another block's, usually another log index. The
signal keeps the key of the trade it was decided on. What finds the trigger of an entry by that
key — the leader's sell that cancels our resting entry (``leader_exited``), and the exits
maintenance makes or tries again (the leader sold while our entry was on its way; an exit
refused, never sent, expired) — found nothing any more: the entry rested on after its leader
had left, and the position was never exited by maintenance. The trigger is the leader's buy of
the token in that transaction, whatever its log index now.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from orderflow.chain.rollback import rollback_from
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


async def _setup(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)


async def _reorg(pool: asyncpg.Pool, trade_id: int) -> None:
    """A reorg orphans block 1 (every test trade's): its trades are deleted, and the canonical
    chain holds the whale's transaction in block 2, at another log index, stored again."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM orderflow_trades WHERE id = $1", trade_id)
        await rollback_from(conn, 137, 1)
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == 0
        await conn.execute(
            """
            INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
                timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
                is_taker_aggregate, side, token_id, market_id, outcome_index, price, size,
                usdc_size, fee, fee_asset)
            SELECT chain_id, tx_hash, log_index + 7, 2, block_hash, timestamp, exchange,
                   exchange_version, order_hash, wallet_address, taker_address,
                   is_taker_aggregate, side, token_id, market_id, outcome_index, price, size,
                   usdc_size, fee, fee_asset
              FROM (SELECT ($1::orderflow_trades).*) r
            """,
            row,
        )


async def _sell_after_the_reorg(pool: asyncpg.Pool) -> None:
    """The whale sells YES in block 3, after its buy (now in block 2) on the new chain."""
    async with pool.acquire() as conn:
        sell = await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48", usdc="300")
        await conn.execute("UPDATE orderflow_trades SET block_number = 3 WHERE id = $1", sell)


async def _whale_buys_and_reorg(pool: asyncpg.Pool, ex: Executor) -> None:
    """The whale's buy of YES is followed (the entry rests), then reorged into block 2."""
    async with pool.acquire() as conn:
        trade_id = await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600")
    await ex.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"
    await _reorg(pool, trade_id)
    await ex.catch_up()  # the buy stored again: the same decision, already taken (no row)
    assert [o[1:] for o in await signal_outcomes(pool)] == [("PENDING", "accepted")]


async def test_the_leaders_sell_cancels_an_entry_whose_buy_was_reorged(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """On main the entry rested on after the whale sold: ``left_behind`` looked its trigger up
    by the log index it had before the reorg."""
    ex = make_executor()
    await _setup(pool, ex)
    await _whale_buys_and_reorg(pool, ex)
    await _sell_after_the_reorg(pool)
    await ex.catch_up()  # the sell asks for the left-behind entries to be cancelled
    await ex.left_behind.wait()
    await ex.maintenance()  # and maintenance looks for them again
    await ex.left_behind.wait()
    order = await pool.fetchrow("SELECT status, status_reason FROM orderflow_orders")
    assert (order["status"], order["status_reason"]) == ("CANCELED", "leader_exited"), dict(order)


async def test_maintenance_exits_a_position_whose_buy_was_reorged(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The entry filled, its buy was reorged, and the whale's sell was read while the
    strategy held nothing yet (here: maintenance runs before the trading loop reads the sell).
    On main maintenance found no position whose leader had left (its trigger looked up by the
    old log index): no exit."""
    ex = make_executor()
    await _setup(pool, ex)
    await _whale_buys_and_reorg(pool, ex)
    assert await fill_resting(pool, ex) == 1
    await _sell_after_the_reorg(pool)
    await ex.maintenance()

    async def exit_signal() -> list[tuple[str, str, str]]:
        return [o for o in await signal_outcomes(pool) if o[0] == "SELL"]

    sells = await wait_for(exit_signal)
    assert sells == [("SELL", "PENDING", "exit_with_leader")], sells
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1
    await ex.catch_up()  # the trading loop reads the sell now: no second exit
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1
