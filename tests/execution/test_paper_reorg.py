"""A paper fill whose level a reorg took away is reversed, as a live fill whose trade FAILED.

A paper order fills from a maker fill the listener stored; when a reorg orphans that fill's block,
the listener deletes it (:mod:`orderflow.chain.rollback`): the liquidity the paper order took
never existed. Before, the paper fill stayed booked for good (shares held, cost paid, P&L made
from nothing). Now the paper exchange reports the level's trade like the CLOB's trades endpoint
does (:meth:`PaperBroker.trade`): MINED while a reorg can still take it, CONFIRMED after, FAILED
once it is gone; the desk's settlement books the reversal (:mod:`orderflow.execution.trade_status`)
and the order's unfilled part rests again.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.chain.rollback import rollback_from
from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    MAKER,
    reveal,
)
from tests.execution.livekit import Clock
from tests.execution.paperkit import clocked_executor, whale_buys

FORK = 1_000  # the orphaned block
REVERSALS = "SELECT count(*) FROM orderflow_fills WHERE reverses IS NOT NULL"


async def _resting(pool: asyncpg.Pool, dsn: str) -> tuple[Executor, Clock]:
    ex, clock = clocked_executor(pool, dsn)
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    return ex, clock


async def _reveal_in_block(conn: asyncpg.Connection, block: int, shares: str) -> None:
    await reveal(conn, price="0.51", shares=shares)
    await conn.execute(
        "UPDATE orderflow_trades SET block_number = $1"
        " WHERE wallet_address = $2 AND block_number = 1",
        block,
        MAKER,
    )


async def _order(pool: asyncpg.Pool) -> asyncpg.Record:
    return await pool.fetchrow("SELECT * FROM orderflow_orders")


async def test_a_paper_fill_whose_level_was_reorged_away_is_reversed(
    pool: asyncpg.Pool, dsn: str
) -> None:
    ex, _ = await _resting(pool, dsn)
    async with pool.acquire() as conn:
        await _reveal_in_block(conn, FORK, "10")
    await ex.desk.reconcile()
    assert (await _order(pool))["filled_shares"] == Decimal(10)

    async with pool.acquire() as conn:
        await rollback_from(conn, 137, FORK)  # the level's block is orphaned
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "OPEN" and order["filled_shares"] == 0
    reversal = await pool.fetchrow("SELECT * FROM orderflow_fills WHERE reverses IS NOT NULL")
    assert reversal is not None and reversal["shares"] == Decimal(10)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_net_fills") == 0
    sig = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert (sig["status"], sig["reason"]) == ("PENDING", "trade_failed")

    # The order rests again: depth revealed later fills it, and nothing is reversed twice.
    async with pool.acquire() as conn:
        await _reveal_in_block(conn, FORK + 1, "4")
    await ex.desk.reconcile()
    await ex.desk.reconcile()
    assert (await _order(pool))["filled_shares"] == Decimal(4)
    assert (
        await pool.fetchval("SELECT count(*) FROM orderflow_fills WHERE reverses IS NOT NULL") == 1
    )
    # As after a live trade that failed: the emptied position closed, the new fill opened one.
    positions = await pool.fetch("SELECT status, shares FROM orderflow_positions ORDER BY id")
    assert [(p["status"], p["shares"]) for p in positions] == [
        ("CLOSED", Decimal(0)),
        ("OPEN", Decimal(4)),
    ]


async def test_a_level_the_new_chain_stores_again_still_filled(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The reorg orphans the level's block, and the new chain has the same maker fill in its
    block at that height (same tx, log index, block and time): the listener stores it again,
    and the paper fill stands (MINED, nothing reversed)."""
    ex, _ = await _resting(pool, dsn)
    async with pool.acquire() as conn:
        await _reveal_in_block(conn, FORK, "10")
    await ex.desk.reconcile()
    assert (await _order(pool))["filled_shares"] == Decimal(10)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE level ON COMMIT DROP AS"
            " SELECT * FROM orderflow_trades WHERE wallet_address = $1",
            MAKER,
        )
        await rollback_from(conn, 137, FORK)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", MAKER
            )
            == 0
        )
        await conn.execute(
            "INSERT INTO orderflow_trades OVERRIDING SYSTEM VALUE SELECT * FROM level"
        )
    await ex.desk.reconcile()
    order = await _order(pool)
    assert order["status"] == "OPEN" and order["filled_shares"] == Decimal(10)
    assert await pool.fetchval("SELECT status FROM orderflow_fill_trades") == "MINED"
    assert await pool.fetchval(REVERSALS) == 0


async def test_a_paper_fill_past_the_reorg_window_is_confirmed(
    pool: asyncpg.Pool, dsn: str
) -> None:
    ex, clock = await _resting(pool, dsn)
    async with pool.acquire() as conn:
        await _reveal_in_block(conn, FORK, "10")
    await ex.desk.reconcile()
    status = "SELECT status FROM orderflow_fill_trades"
    assert await pool.fetchval(status) == "MINED"
    clock.offset = timedelta(minutes=20)
    await ex.desk.reconcile()
    assert await pool.fetchval(status) == "CONFIRMED"
    assert (
        await pool.fetchval("SELECT count(*) FROM orderflow_fills WHERE reverses IS NOT NULL") == 0
    )


async def test_an_order_reopened_by_a_reversal_does_not_take_its_own_level_twice(
    pool: asyncpg.Pool, dsn: str
) -> None:
    ex, _ = await _resting(pool, dsn)
    shares = (await _order(pool))["shares"]
    async with pool.acquire() as conn:
        await _reveal_in_block(conn, FORK + 1, "10")  # at 0.51, reorged away below
        await _reveal_in_block(conn, FORK, str(shares))  # at 0.51 too: the rest of the order
    await ex.desk.reconcile()
    assert (await _order(pool))["status"] == "FILLED"
    async with pool.acquire() as conn:
        await rollback_from(conn, 137, FORK + 1)
    await ex.desk.reconcile()
    await ex.desk.reconcile()
    # The reversal reopened the order for 10 shares; the level it kept still shows 10 it did
    # not take. Before, the order took them under the key its match was stored (and booked)
    # under already: the match was not stored, yet the paper order counted them as filled.
    paper = await pool.fetchval("SELECT filled FROM orderflow_paper_orders")
    matched = await pool.fetchval(
        "SELECT sum(shares) FROM orderflow_paper_matches WHERE reversed_at IS NULL"
    )
    order = await _order(pool)
    assert paper == matched == order["filled_shares"] == shares - 10
    assert order["status"] == "OPEN"
