"""A paper exit sells what a live one would sign: its size rounded down to 0.01 share.

The SDK signs a limit order's size rounded down to 0.01 share, so a live exit of a position
holding micro-shares (a maker fill of our resting entry is whatever the taker took, a paper level
whatever its maker fill was) sells the rounded size and keeps the dust to resolution
(tests/execution/test_exit_fractional.py). The paper exit sold the unrounded size: paper closed
positions live would have held a dust of, and its P&L counted the dust's sale.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

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
    follow,
    reveal,
    wait_for,
)


async def test_a_paper_exit_of_micro_shares_sells_the_signed_size_and_keeps_the_dust(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
    entry = await follow(pool, ex, price="0.50")
    assert entry is not None and entry["side"] == "BUY"
    assert entry["shares"] == entry["shares"].quantize(Decimal("0.01"))  # entries are signed
    # A maker fill of 10.123456 shares at our limit: the entry fills that much of its size.
    async with pool.acquire() as conn:
        await reveal(conn, met="BUY", price=str(entry["price"]), shares="10.123456")
    await ex.desk.reconcile()
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    assert held == Decimal("10.123456")
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", price="0.49")  # the leader leaves
    await ex.catch_up()
    exit_ = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert exit_ is not None
    assert exit_["shares"] == Decimal("10.12"), dict(exit_)
    paper = await pool.fetchval("SELECT shares FROM orderflow_paper_orders WHERE side = 'SELL'")
    assert paper == Decimal("10.12")
    # The leader left: the entry's rest is cancelled in the background. A seller revealed while
    # it still rested at 0.50 would meet it first (the resting order's fill rule, depth.py), so
    # the bid below is revealed once the cancel is stored, as the exit alone would meet it.
    await wait_for(
        lambda: pool.fetchval(
            "SELECT canceled_at IS NOT NULL FROM orderflow_paper_orders WHERE side = 'BUY'"
        )
    )
    async with pool.acquire() as conn:  # a bid at the exit's limit, as large as it is
        await reveal(conn, met="SELL", price=str(exit_["price"]), shares="10.12")
    await ex.desk.reconcile()
    row = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (row["status"], row["shares"]) == ("OPEN", Decimal("0.003456")), dict(row)
