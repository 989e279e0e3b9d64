"""The book the risk limits read is one moment's: a fill booked while it is being read is counted
once, never lost between its reads.

The book is read in several statements — open positions, then live orders, then the orders on
their way in memory. A fill moves exposure from an order to a position in one transaction (the
order FILLED, the position opened): booked between the read of the positions and the read of
the orders, it was in neither (read committed: each statement sees what is committed when it
starts). The paper exchange books its fills in the maintenance task while the trading loop
decides; live, an order matched at placement is booked by the order worker the same way. The
decision then saw nothing in the market: a second entry was made into it, and an exit filled in
that moment was made again — a SELL of shares no longer held.

The tests make the fill land exactly there: the decision's connection books it (through the
desk's reconciliation, on its own connection) right after the book's read of the positions.

An order on its way (decided, handed to the order worker) counts in the book until its intent is
stored, then as that order: it counted twice — in memory and as the stored intent — for as long
as the exchange took to answer, and a slow exchange's send left the strategy with half the cash
it had.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from orderflow import db
from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
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
)
from tests.execution.gated_broker import GatedBroker


class FillLandsMidBook:
    """The decision path's connection, passing everything on, but for one thing: right after
    the first read of open positions made inside a transaction (the book's), ``then`` runs —
    once, when armed."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self.then: Callable[[], Awaitable[Any]] | None = None
        self.landed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def fetch(self, query: str, *args: Any, **kw: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._conn.fetch(query, *args, **kw)
        then = self.then
        if (
            then is not None
            and "FROM orderflow_positions p" in query
            and self._conn.is_in_transaction()
        ):
            self.then = None
            await then()
            self.landed = True
        return rows


async def _setup(pool: asyncpg.Pool, ex: Executor, **settings: object) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **settings)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)


async def _interleaved(ex: Executor, dsn: str) -> FillLandsMidBook:
    spy = FillLandsMidBook(await db.connect(dsn))
    ex.trader.conn = spy  # the decision path's own connection
    return spy


async def test_a_fill_booked_while_the_book_is_read_still_holds_its_market(
    pool: asyncpg.Pool, dsn: str, make_executor: Callable[..., Executor]
) -> None:
    """The whale's buy of YES rests; its fill is booked as the whale's next buy (of NO, same
    market) is decided. On main the decision saw neither the order (FILLED by then) nor the
    position (not yet booked when read): a second entry, into the market's other outcome."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600")
    await ex.catch_up()
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "OPEN"

    spy = await _interleaved(ex, dsn)
    try:
        spy.then = lambda: fill_resting(pool, ex)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_NO, outcome_index=1, price="0.45", usdc="600")
        await ex.catch_up()
        assert spy.landed
    finally:
        await ex.trader.close_connection()

    assert await pool.fetchval("SELECT status FROM orderflow_orders ORDER BY id LIMIT 1") == (
        "FILLED"
    )
    outcomes = await signal_outcomes(pool)
    assert outcomes[1] == ("BUY", "SKIPPED", "position_exists"), outcomes
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 1


async def test_an_exit_filled_while_the_book_is_read_is_not_made_again(
    pool: asyncpg.Pool, dsn: str, make_executor: Callable[..., Executor]
) -> None:
    """The leader sold; our exit rests. It fills as the leader's next sell is decided. On main
    the decision saw the position still open and no exit resting (FILLED by then): a second
    exit, a SELL of shares no longer held."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600")
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48", usdc="300")
    await ex.catch_up()
    exit_status = "SELECT status FROM orderflow_orders WHERE side = 'SELL' ORDER BY id"
    assert [r["status"] for r in await pool.fetch(exit_status)] == ["OPEN"]

    spy = await _interleaved(ex, dsn)
    try:
        spy.then = lambda: fill_resting(pool, ex)
        async with pool.acquire() as conn:
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.47", usdc="300")
        await ex.catch_up()
        assert spy.landed
    finally:
        await ex.trader.close_connection()

    assert [r["status"] for r in await pool.fetch(exit_status)] == ["FILLED"]
    position = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (position["status"], position["shares"]) == ("CLOSED", 0)
    sells = [o for o in await signal_outcomes(pool) if o[0] == "SELL"]
    assert sells == [("SELL", "EXECUTED", "filled")], sells


async def test_an_order_on_its_way_counts_once(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Half the bankroll staked on a whale buy, its order held up at the exchange (sent, no
    answer yet: the intent is stored). The whale's buy in another market takes the other half.
    On main the order counted twice while it was on its way — in memory and as its intent —
    so the strategy had no cash left: SKIPPED ``bankroll_spent``."""
    exchange = GatedBroker(PaperBroker(pool), "send")
    ex = make_executor({"paper": exchange})
    # Full Kelly, a large edge: each whale buy stakes half the bankroll (the cap of 0.5).
    await _setup(pool, ex, bankroll_usd=1000.0, max_position_usd=1000.0, kelly_fraction=1.0)
    market_b, token_b = "0x" + "b2" * 32, int("6" * 70)
    async with pool.acquire() as conn:
        await add_token(conn, token_b, market_b, 0)
        await add_wallet(conn, WHALE, 8.5, edge=0.80, edge_se=0.05)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50", usdc="600")
    ex.worker.start()
    try:
        await ex.catch_up()
        await exchange.reached.wait()  # sent, not answered: the intent is stored
        assert await pool.fetchval("SELECT status FROM orderflow_orders") == "INTENT"
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=token_b, market=market_b, price="0.50", usdc="600")
        await ex.catch_up()
        exchange.gate.set()
        await ex.worker.drain()
    finally:
        await ex.worker.stop()
    outcomes = await signal_outcomes(pool)
    assert outcomes[1][1:] != ("SKIPPED", "bankroll_spent"), outcomes
    assert [o[1] for o in outcomes] == ["PENDING", "PENDING"], outcomes
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders") == 2
