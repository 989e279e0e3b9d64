"""One position per market, also for a position whose first fill named no market.

docs/executor.md, ``position_exists``: "the strategy holds a position, or has a live order, in
this market — in any of its outcomes: one position per market (a YES from one leader and a NO
from another is a locked loss)". A whale's buy of a market the token registry did not know yet
(the listener stores it with no ``market_id``; ``BACKFILL_TRADE_MARKETS`` names it once the
registry learns the token) opened a position with ``market_id`` NULL, which stays so until it is
settled (``settle_queries.settled_in``). The book reads its market through the registry
(``position_queries.book_rows``, as live orders and the settlement do). Until 6 Dec 2026 it
read the stored NULL, so once the registry knew the market the other outcome was bought beside
it: YES and NO of one market, two "markets" against ``max_open_positions``, and the market's
exposure cap seeing half of it.

No entry is made in a market the registry does not know any more (``market_unknown``:
tests/signals/test_market_unknown.py); a position opened so before that stays, and is what the
test stores (the entry's position with its ``market_id`` taken away).
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

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
)

LEADER_B = "0x" + "b1" * 20


async def _signals(pool: asyncpg.Pool) -> list[tuple[int, str, str]]:
    rows = await pool.fetch("SELECT token_id, status, reason FROM orderflow_signals ORDER BY id")
    return [(int(r["token_id"]), r["status"], r["reason"]) for r in rows]


async def test_the_other_outcome_is_refused_once_the_market_is_known(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await add_wallet(conn, LEADER_B, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600")
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    # The position as an entry made before the registry knew the market left it.
    await pool.execute("UPDATE orderflow_positions SET market_id = NULL, outcome_index = NULL")
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert pos["status"] == "OPEN" and pos["shares"] > 5 and int(pos["token_id"]) == TOKEN_YES
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_NO, MARKET, 1)
        # Another whale buys NO of the same market.
        await add_trade(conn, wallet=LEADER_B, token_id=TOKEN_NO, outcome_index=1, price="0.45",
                        usdc="600")  # fmt: skip
    await ex.catch_up()
    outcomes = await _signals(pool)
    orders = await pool.fetch("SELECT token_id, side, shares, price FROM orderflow_orders")
    assert outcomes[-1] == (TOKEN_NO, "SKIPPED", "position_exists"), (
        f"holding {pos['shares']} YES, the strategy bought NO of the same market: {outcomes}; "
        f"orders {[(int(o['token_id']) == TOKEN_NO, o['shares'], o['price']) for o in orders]}"
    )
