"""The market's rules (``GET /book``) are read before the decision lock and its transaction.

The first read of a token's rules (none known, or the hour they are kept has passed) used to
happen inside the executor's decision lock and an open database transaction: a slow exchange
held every other decision (every strategy, entries and exits: the trading loop's and
maintenance's) and a transaction open for up to the read's 3 s timeout — exactly when latency
matters, on a trade of a token nobody traded in the last hour. The CLOB stand-in holds
``GET /book`` here while the other decision is made and the open transactions are counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.market_rules import RulesCache
from orderflow.execution.order_pacing import EXIT_RETRIES
from tests.execution.conftest import (
    TOKEN_YES,
    add_trade,
    follow,
    leading,
    running,
    signal_outcomes,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy, new_market

SLOW_BOOK = 2.0  # seconds the stand-in holds GET /book (under the read's 3 s timeout)


_IDLE_IN_TRANSACTION = (
    "SELECT pid, xact_start FROM pg_stat_activity WHERE datname = current_database()"
    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
)


async def _open_transactions(pool: asyncpg.Pool) -> int:
    """Sessions of the test database (the executor's) holding one transaction open, idle,
    across a part of the book's read: seen in two samples 0.2 s apart (of the stand-in's 2 s)
    with the same start. One sample also caught a transaction between two of its statements
    (it failed once so on a loaded machine)."""
    first = {tuple(r) for r in await pool.fetch(_IDLE_IN_TRANSACTION)}
    await asyncio.sleep(0.2)
    second = {tuple(r) for r in await pool.fetch(_IDLE_IN_TRANSACTION)}
    return len(first & second)


async def _reading_book(clob: FakeClob) -> bool:
    return clob.pending.get("/book", 0) > 0


async def _held(pool: asyncpg.Pool, ex: Executor) -> None:
    """A live position in TOKEN_YES (its rules read then)."""
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills at once
    assert await signal_outcomes(pool) == [("BUY", "EXECUTED", "filled")]


async def test_a_late_exit_reading_its_markets_rules_holds_up_no_entry(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Maintenance tries an exit again, in a token whose rules are no longer known (the hour
    has passed): while ``GET /book`` is answered, a whale's buy of another market (its rules
    known) is decided by the trading loop, and no transaction is open."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    await _held(pool, ex)
    # the exit is refused (one 429 more than the worker sends it again for): tried again later
    clob.fail("POST", "/order", 429, times=1 + EXIT_RETRIES)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
        other_market, other = await new_market(clob, conn, 1, ask="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    await age_exits(pool, timedelta(minutes=1))  # the pause before the next try has passed
    live.rules = RulesCache()  # TOKEN_YES's rules forgotten (an hour later) ...
    assert await live.market_rules(other) is not None  # ... the other market's known
    clob.path_delays["/book"] = SLOW_BOOK
    maintenance = asyncio.create_task(ex.maintenance())
    try:
        await wait_for(lambda: _reading_book(clob))  # the late exit reads TOKEN_YES's rules
        open_while_reading = await _open_transactions(pool)
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=other, market=other_market, price="0.50")
        await ex.catch_up()
        decided_while_reading = await _reading_book(clob)
    finally:
        await maintenance
    assert (open_while_reading, decided_while_reading) == (0, True)
    await ex.worker.drain()
    outcomes = await signal_outcomes(pool)
    assert outcomes[2:] == [  # the other market's entry first, the exit once its rules came
        ("BUY", "EXECUTED", "filled"),
        ("SELL", "EXECUTED", "filled"),
    ], outcomes
    assert clob.requests.count(("GET", "/book")) == 3  # TOKEN_YES twice, the other once


@pytest.mark.parametrize("decision", ["entry", "exit"])
async def test_a_decision_reading_its_markets_rules_holds_up_no_other(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, decision: str
) -> None:
    """The trading loop decides an entry in a token whose rules are not known yet, or the exit
    of a position held longer than the rules are kept: while ``GET /book`` is answered,
    maintenance's work under the decision lock (closing orphaned signals) is done, and no
    transaction is open."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    if decision == "exit":
        await _held(pool, ex)
        live.rules = RulesCache()  # held longer than the rules are kept
    async with running(ex):
        await leading(ex)
        clob.path_delays["/book"] = SLOW_BOOK
        async with pool.acquire() as conn:
            if decision == "exit":
                await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
            else:
                await add_trade(conn, token_id=TOKEN_YES, price="0.50")
        await wait_for(lambda: _reading_book(clob))
        open_while_reading = await _open_transactions(pool)
        await ex.close_orphans()  # under the decision lock
        done_while_reading = await _reading_book(clob)
        side = "SELL" if decision == "exit" else "BUY"

        async def decided() -> bool:
            return (await signal_outcomes(pool))[-1:] == [(side, "EXECUTED", "filled")]

        await wait_for(decided)
    assert (open_while_reading, done_while_reading) == (0, True)
