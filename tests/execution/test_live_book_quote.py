"""A live decision prices against the exchange's book, read before it, not the tape's fills
(and a paper one, when the executor reads the public books: ``PAPER_BOOKS``).

The tape (the fills of the last half hour) shows the levels takers took: after a leader's BUY
swept the asks up to 0.50, the tape's ask is 0.50, but the book's best ask is the level left
above it. Priced from the tape, the follow was a BUY limit at 0.50 plus slippage: it rested
below the book, filled only if the price came back down — when the market turned against the
leader. Read from the book, the price gate sees the move (``price_moved``) and an order that
passes it is priced at what it meets. Paper has no book: the tape, as the backtest reads it.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.live_connect import public_books
from orderflow.execution.market_rules import BOOK_TOP_MAX_AGE_SECS, RulesCache
from orderflow.execution.paper import PaperBroker
from orderflow.strategy.settings import StrategySettings
from tests.execution.conftest import TOKEN_YES, follow, signal_outcomes, wait_for
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy
from tests.execution.paperkit import clocked_executor, whale_buys
from tests.execution.test_market_rules import Monotonic


async def _signal(pool: asyncpg.Pool) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT status, reason, inputs FROM orderflow_signals ORDER BY id")
    assert row is not None
    return dict(row)


def _inputs(signal: dict[str, Any]) -> dict[str, Any]:
    inputs = signal["inputs"]
    return dict(json.loads(inputs) if isinstance(inputs, str) else inputs)


async def test_the_book_above_the_tape_refuses_a_live_follow_price_moved(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The whale bought YES at 0.50 (the tape's ask); the book now asks 0.56: moved 0.06,
    over ``max_price_move`` 0.03. Before, the order went out at 0.50 and rested. (The
    strategy's default quote.)"""
    await live_strategy(pool, quote_from=StrategySettings().quote_from)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.56")
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert order is None
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "price_moved")]
    assert ("POST", "/order") not in clob.requests


async def test_a_live_follow_is_priced_at_the_books_ask(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The book asks 0.52, within the move allowed: the order's limit is 0.52 (no slippage set),
    and it fills there at once."""
    await live_strategy(pool, quote_from="book", paper_slippage_bps=0)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.52")
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    assert order is not None and order["price"] == Decimal("0.52")
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    market = _inputs(await _signal(pool))["market"]
    assert (market["last_price"], market["quote_from"]) == ("0.52", "book")


async def test_a_live_follow_buys_no_more_than_the_book_offers_at_its_limit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The book offers 20 shares at 0.50 (Kelly wants hundreds): the order is for 20, filled at
    once, ``book_depth`` among its caps. Before, the order asked for all of them and the rest
    rested at 0.50, where the book no longer offered any."""
    await live_strategy(pool, quote_from="book", paper_slippage_bps=0)
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(20)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    assert order is not None and order["shares"] == Decimal(20)
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]
    assert "book_depth" in _inputs(await _signal(pool))["sizing"]["capped_by"]


async def test_a_book_of_several_levels_in_the_exchanges_order(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The CLOB lists asks from the highest down (the best last): 0.55 x 10, 0.52 x 10,
    0.50 x 20. The quote is 0.50; with 4 % slippage the limit is 0.52, where 30 shares are
    offered: the order is for 30 at 0.52."""
    await live_strategy(pool, quote_from="book", paper_slippage_bps=400)
    levels = [("0.55", "10"), ("0.52", "10"), ("0.50", "20")]
    clob.book_patch = {"asks": [{"price": p, "size": n} for p, n in levels]}
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    assert order is not None and (order["price"], order["shares"]) == (Decimal("0.52"), 30)
    assert _inputs(await _signal(pool))["market"]["last_price"] == "0.50"


async def test_a_book_offering_less_than_the_minimum_is_below_min_size(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """3 shares offered, the market's minimum 5: nothing is sent."""
    await live_strategy(pool, quote_from="book")
    clob.markets[TOKEN_YES].ask_sizes[TOKEN_YES] = Decimal(3)
    ex = live_executor(pool, dsn, live)
    assert await follow(pool, ex, token_id=TOKEN_YES, price="0.50") is None
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "below_min_size")]
    assert _inputs(await _signal(pool))["sizing"]["capped_by"] == ["book_depth"]


async def test_an_empty_ask_side_is_no_price(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Nobody offers YES on the book (the leader took the last ask): no order rests at a guess."""
    await live_strategy(pool, quote_from="book")
    del clob.markets[TOKEN_YES].asks[TOKEN_YES]
    ex = live_executor(pool, dsn, live)
    assert await follow(pool, ex, token_id=TOKEN_YES, price="0.50") is None
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "no_price")]


async def test_a_strategy_on_the_tape_quote_rests_below_the_book(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """``quote_from: tape`` keeps the fills' quote (no book read for it): the follow rests at
    the leader's price under the book's 0.56."""
    await live_strategy(pool, quote_from="tape", paper_slippage_bps=0)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.56")
    ex = live_executor(pool, dsn, live)
    reads = clob.requests.count(("GET", "/book"))
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    assert order is not None and order["price"] == Decimal("0.50")
    assert (await _signal(pool))["status"] == "PENDING"
    assert clob.requests.count(("GET", "/book")) == reads + 1  # the rules' first read only


async def test_a_failed_book_read_sends_no_live_entry(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The book cannot be read (the exchange is busy): the entry is SKIPPED ``no_book``. Until
    7 Dec 2026 it was decided on the tape's quote and went out at 0.50, resting below the book's
    0.56 (filled, if ever, when the market came back down: against the leader)."""
    await live_strategy(pool, quote_from="book", paper_slippage_bps=0)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.56")  # the book's, not read
    clob.fail("GET", "/book", 503)
    ex = live_executor(pool, dsn, live)
    order = await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    assert order is None
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "no_book")]
    assert clob.requests.count(("POST", "/order")) == 0


async def test_a_failed_public_book_read_leaves_paper_the_tape(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob
) -> None:
    """``PAPER_BOOKS`` and the public book cannot be read: a paper decision keeps the tape's
    quote (it risks no money; the backtest decides on the tape too) — a control."""
    books = public_books(clob.url)
    clob.fail("GET", "/book", 503)
    ex, _ = clocked_executor(pool, dsn, broker=PaperBroker(pool, books=books))
    try:
        await whale_buys(pool, ex)
        await ex.catch_up()
    finally:
        await books.close()
    assert await signal_outcomes(pool) == [("BUY", "PENDING", "accepted")]
    assert _inputs(await _signal(pool))["market"]["quote_from"] == "tape"


async def test_the_books_of_a_batch_are_read_at_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A slow exchange delays a batch of buys in three markets by one book read, not three: the
    reads are under way together (held by the stand-in), before the decision."""
    await live_strategy(pool, quote_from="book")
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    await buys_in_new_markets(pool, clob, 3)
    clob.path_delays["/book"] = 1.0

    async def together() -> bool:
        return clob.pending.get("/book", 0) >= 3

    deciding = asyncio.create_task(ex.catch_up())
    try:
        await wait_for(together)
    finally:
        await deciding
    assert len(await signal_outcomes(pool)) == 3


async def test_a_book_read_is_a_quote_for_a_while_only(live: LiveBroker, clob: FakeClob) -> None:
    """A top of book older than ``BOOK_TOP_MAX_AGE_SECS`` is no quote; the next read refreshes
    it (and the market's rules with it), but not while a failed read's pause lasts."""
    clock = Monotonic()
    live.rules = RulesCache(clock=clock)
    await live.read_book(TOKEN_YES)
    top = live.book_top(TOKEN_YES)
    assert top is not None and (top.ask, top.bid) == (Decimal("0.50"), None)
    clock.now += BOOK_TOP_MAX_AGE_SECS + 1
    assert live.book_top(TOKEN_YES) is None
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.55")
    await live.read_book(TOKEN_YES)
    top = live.book_top(TOKEN_YES)
    assert top is not None and top.ask == Decimal("0.55")
    reads = clob.requests.count(("GET", "/book"))
    clob.fail("GET", "/book", 404)
    clock.now += BOOK_TOP_MAX_AGE_SECS + 1
    await live.read_book(TOKEN_YES)  # fails: paused for RULES_RETRY_SECS
    await live.read_book(TOKEN_YES)  # not asked again meanwhile
    assert clob.requests.count(("GET", "/book")) == reads + 1
    assert live.book_top(TOKEN_YES) is None


async def test_a_crossed_or_impossible_book_is_no_quote(live: LiveBroker, clob: FakeClob) -> None:
    """A bid at or above the ask, or a level at 1, is a book the exchange cannot hold: refused
    like a book that does not parse (no quote, the rules not taken from it)."""
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.50")  # the ask is 0.50
    await live.read_book(TOKEN_YES)
    assert live.book_top(TOKEN_YES) is None
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    clob.book_patch = {"asks": [{"price": "1", "size": "10"}]}
    live.rules = RulesCache()
    await live.read_book(TOKEN_YES)
    assert live.book_top(TOKEN_YES) is None


async def test_paper_decisions_read_the_public_books_when_asked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob
) -> None:
    """``PAPER_BOOKS``: a paper strategy's decision reads the CLOB's public book (no
    credentials) as a live one does — the book asks 0.56 over the whale's 0.50: ``price_moved``,
    where the tape's quote accepts the follow (a paper order resting at 0.50: the paper tests)."""
    books = public_books(clob.url)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.56")
    ex, _ = clocked_executor(pool, dsn, broker=PaperBroker(pool, books=books))
    try:
        await whale_buys(pool, ex)
        await ex.catch_up()
    finally:
        await books.close()
    assert await signal_outcomes(pool) == [("BUY", "SKIPPED", "price_moved")]
    assert _inputs(await _signal(pool))["market"]["quote_from"] == "book"
    assert {path for _, path in clob.requests} == {"/book"}  # the public read alone
