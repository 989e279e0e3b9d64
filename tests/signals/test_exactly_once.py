"""One decision of a leader makes at most one entry signal per strategy.

A signal is keyed by its fill, ``(chain_id, tx_hash, log_index)``. A reorg that includes the
leader's transaction in another block deletes its trades and the listener stores them again,
usually at another log index (``tests/execution/test_reorged_trigger.py``): the same decision,
another key. And a transaction may carry several matches of one taker order (the exchange
emits a taker aggregate row per match: ``orderflow.chain.amounts.correct_unmatched_takers``),
one decision of the leader in several rows. Each such row was decided again, as a fill of its
own: a decision the strategy had refused (here ``price_moved``) was taken the second time, a
second order for the same buy of the leader.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

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
    reveal,
)

_COPY = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
    timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
    is_taker_aggregate, side, token_id, market_id, outcome_index, price, size, usdc_size, fee,
    fee_asset)
SELECT chain_id, tx_hash, log_index + $2, block_number + $3, block_hash, timestamp, exchange,
       exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate, side,
       token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset
  FROM (SELECT ($1::orderflow_trades).*) r
"""


async def _setup(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)


async def _signals(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch("SELECT log_index, status, reason FROM orderflow_signals ORDER BY id")
    return [(r["log_index"], r["status"], r["reason"]) for r in rows]


async def _whale_buy_refused(pool: asyncpg.Pool, ex: Executor) -> asyncpg.Record:
    """The whale buys YES at 0.50 while the ask is 0.56: SKIPPED price_moved. The ask then
    comes back to 0.51."""
    async with pool.acquire() as conn:
        trade_id = await add_trade(conn, price="0.50", usdc="600")
        await reveal(conn, price="0.56", shares="100")
    await ex.catch_up()
    assert [s[1:] for s in await _signals(pool)] == [("SKIPPED", "price_moved")]
    async with pool.acquire() as conn:
        await reveal(conn, price="0.51", shares="100", at=datetime.now(UTC) + timedelta(seconds=1))
        row = await conn.fetchrow("SELECT * FROM orderflow_trades WHERE id = $1", trade_id)
    assert row is not None
    return row


async def test_a_buy_stored_again_by_a_reorg_is_not_decided_again(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex)
    buy = await _whale_buy_refused(pool, ex)
    async with pool.acquire() as conn:
        # The reorg: block 1 orphaned, the whale's transaction in block 2 at another log index.
        await rollback_from(conn, 137, 1)
        await conn.execute(_COPY, buy, 7, 1)
    await ex.catch_up()
    signals = await _signals(pool)
    orders = await pool.fetch("SELECT side, shares, price FROM orderflow_orders")
    assert [s[1:] for s in signals] == [("SKIPPED", "price_moved")], (
        f"the whale's one buy, stored again by a reorg, was decided twice: {signals}, orders"
        f" {[tuple(o) for o in orders]}"
    )


async def test_one_taker_order_matched_twice_in_a_transaction_is_one_signal(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex)
    buy = await _whale_buy_refused(pool, ex)
    async with pool.acquire() as conn:
        # The same transaction's second match of the whale's order (stored late: a re-read).
        await conn.execute(_COPY, buy, 3, 0)
    await ex.catch_up()
    signals = await _signals(pool)
    orders = await pool.fetch("SELECT side, shares, price FROM orderflow_orders")
    assert [s[1:] for s in signals] == [("SKIPPED", "price_moved")], (
        f"one buy of the whale in one transaction made {len(signals)} signals: {signals},"
        f" orders {[tuple(o) for o in orders]}"
    )
