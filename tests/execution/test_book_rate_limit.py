"""A burst of live decisions under the CLOB's rate limit on ``GET /book``.

Twenty leaders' buys in twenty markets in one block make twenty book reads, eight at a time
(``market_rules.READS_AT_ONCE``). The exchange answers 429 to every one of them: the first
reads' refusal pauses the reads of every token (``unanswered.exchange_unanswered``), so the
rest are not sent into the limit, nothing is retried past the decision, no decision is lost
and none crashes the loop. Each entry is SKIPPED ``no_book``: a live order priced from the
tape's quote (the fills of the last half hour) when the book could not be read may pay what
the market no longer offers — until 7 Dec 2026 all twenty went out on the tape's quote
(``quote_from: tape``). A paper decision keeps the tape (the backtest decides on it too)."""

from __future__ import annotations

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.market_rules import READS_AT_ONCE
from tests.execution.conftest import TOKEN_YES, add_trade
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

BUYS = 20


async def test_a_burst_of_decisions_under_a_rate_limited_book(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    await live_strategy(pool, quote_from="book", max_open_positions=BUYS)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    await buys_in_new_markets(pool, clob, BUYS)
    clob.rate_limit("GET", "/book", 60)
    assert await ex.catch_up() == BUYS
    await ex.worker.drain()
    signals = await pool.fetch("SELECT status, reason, inputs FROM orderflow_signals")
    assert len(signals) == BUYS
    assert {(s["status"], s["reason"]) for s in signals} == {("SKIPPED", "no_book")}
    assert 0 < clob.requests.count(("GET", "/book")) <= READS_AT_ONCE
    assert clob.requests.count(("POST", "/order")) == 0


async def test_strategies_deciding_on_one_token_share_one_book_read(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Two live strategies follow the whale's buy of one token in one batch: one ``GET /book``
    serves both decisions (each read counts against the exchange's rate limit)."""
    await live_strategy(pool, "live-one", quote_from="book")
    await live_strategy(pool, "live-two", quote_from="book")
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    assert await ex.catch_up() == 2
    quotes = await pool.fetch("SELECT inputs FROM orderflow_signals")
    assert {q["inputs"]["market"]["quote_from"] for q in quotes} == {"book"}
    assert clob.requests.count(("GET", "/book")) == 1, clob.requests
