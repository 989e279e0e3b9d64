"""The paper exchange as an accountant checks it (an audit, 6 Dec 2026).

A paper strategy that reads the CLOB's public books (``PAPER_BOOKS``) rehearses its live
decisions: it trades under the market's own minimum order size and tick, which that book
states, as live does. Before, the paper broker named no market rules, so its decisions kept the
strategy's (5 shares, 0.01): with the book offering 10 shares at 0.503 in a market whose
minimum is 15 and tick 0.001, paper rested a BUY of 10 at 0.51 — an order the exchange refuses
(``Size (10) lower than the minimum: 15``), its paper fills and P&L none a live run could
have — where live skips ``below_min_size``; offered 100, it priced at 0.51 where live bids
0.505. The fills still come from the depth the chain reveals (``test_paper_depth.py``: never
more than a level shows, each level once; ``test_paper_adverse.py``: a taker at the level's
price with the fee, the flow crossing a resting order at its limit without one)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live_connect import public_books
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import TOKEN_YES, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.paperkit import clocked_executor, whale_buys


async def _paper_follow(pool: asyncpg.Pool, dsn: str, clob: FakeClob) -> None:
    books = public_books(clob.url)
    ex, _ = clocked_executor(pool, dsn, broker=PaperBroker(pool, books=books))
    try:
        await whale_buys(pool, ex)
        await ex.catch_up()
        await ex.worker.drain()  # an order accepted is on the paper exchange
    finally:
        await books.close()


def _market(clob: FakeClob, offered: str) -> None:
    """YES asked at 0.503 (``offered`` shares) in a market of minimum 15 and tick 0.001."""
    market = clob.markets[TOKEN_YES]
    market.min_size, market.tick = Decimal(15), Decimal("0.001")
    market.asks[TOKEN_YES], market.ask_sizes[TOKEN_YES] = Decimal("0.503"), Decimal(offered)


async def test_a_paper_entry_under_the_markets_minimum_is_not_made(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob
) -> None:
    _market(clob, "10")
    await _paper_follow(pool, dsn, clob)
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "below_min_size")]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_paper_orders") == 0


async def test_a_paper_entry_is_priced_on_the_markets_tick(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob
) -> None:
    """0.503 plus 20 bps of slippage (0.001006) is 0.504006, up to the market's tick: 0.505."""
    _market(clob, "100")
    await _paper_follow(pool, dsn, clob)
    order = await pool.fetchrow("SELECT price, shares FROM orderflow_paper_orders")
    assert order is not None and order["price"] == Decimal("0.505")
    assert order["shares"] == 100
