"""Live-mode test kit: the CLOB stand-in, the SDK logged in to it, a movable clock, and an
executor wired to both (shared by the live tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from prometheus_client import generate_latest

from orderflow.execution.broker import Broker, Mode
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.live_connect import open_live_broker
from orderflow.execution.orders import OrderDesk
from orderflow.execution.paper import PaperBroker
from tests.execution.clob_market import Market
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    executor_settings,
    follow,
)
from tests.execution.fake_clob import FakeClob

KEY = "0x" + "4c" * 32


async def start_clob() -> FakeClob:
    server = FakeClob()
    server.add_market(
        Market(
            condition_id=MARKET,
            tokens=(TOKEN_YES, TOKEN_NO),
            asks={TOKEN_YES: Decimal("0.50"), TOKEN_NO: Decimal("0.90")},
        )
    )
    await server.start()
    return server


async def login(clob: FakeClob) -> LiveBroker:
    return await open_live_broker(LiveCredentials(POLY_PRIVATE_KEY=KEY, POLY_CLOB_URL=clob.url))


async def live_strategy(pool: asyncpg.Pool, name: str = "live-one", **settings: Any) -> None:
    """A live strategy following the whale. Its quote is the tape's unless ``quote_from`` is
    given: these tests need entries that rest below the stand-in's ask (the leader's price
    under a book that has moved), which a book-priced order meets only when the book moves
    between its read and the order (``test_live_book_quote.py`` tests the default, the book)."""
    settings.setdefault("quote_from", "tape")
    async with pool.acquire() as conn:
        await add_strategy(conn, name, mode="live", **settings)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)


class Clock:
    """The executor's clock, movable (GTD expiry is minutes away)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def live_executor(
    pool: asyncpg.Pool,
    dsn: str,
    live: Broker,
    desk: type[OrderDesk] = OrderDesk,
    clock: Clock | None = None,
    **settings: Any,
) -> Executor:
    brokers: dict[Mode, Broker] = {"paper": PaperBroker(pool), "live": live}
    clock = clock or Clock()
    return Executor(
        pool,
        dsn,
        executor_settings(**settings),
        brokers,
        desk=desk(pool, brokers, clock=clock),
        clock=clock,
    )


async def holding_yes(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: Broker) -> Executor:
    """A live strategy that followed a whale's buy of YES at 0.50 (the ask: filled at once) and
    holds it, the book bidding 0.49 for its exit; the leader has not sold yet."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    return ex


async def position_state(pool: asyncpg.Pool) -> tuple[str, Decimal]:
    """The one position's status and shares."""
    row = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    return row["status"], row["shares"]


async def mined(ex: Executor, clob: FakeClob) -> None:
    """Every trade of ours not settled yet (MATCHED, RETRYING) is mined, and the executor's
    maintenance reads their status."""
    for trade in clob.trades:
        if trade["status"] in ("TRADE_STATUS_MATCHED", "TRADE_STATUS_RETRYING"):
            clob.settle(trade["id"], "MINED")
    await ex.maintenance()


async def resting_second_entry(pool: asyncpg.Pool, ex: Executor, clob: FakeClob) -> str:
    """A second live strategy, ``live-two``, follows the whale's next buy of YES at 0.50 with
    the ask at 0.60: its entry rests. Its exchange order id."""
    await live_strategy(pool, "live-two")
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.60")
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    return str(
        await pool.fetchval(
            "SELECT exchange_order_id FROM orderflow_orders WHERE strategy = 'live-two'"
        )
    )


async def resting_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: Broker
) -> tuple[Executor, Clock, Decimal, asyncpg.Record]:
    """A live strategy (on a :class:`Clock` of its own) that followed a whale's buy of YES at
    0.50 and holds it; nobody bids, so its exit of the leader's sale at 0.49 rests: the
    executor, its clock, the shares held and the exit's order row."""
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    held = (await position_state(pool))[1]
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES, None)  # nobody bids: the exit rests
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    return ex, clock, held, sell


async def expire_partly_taken(
    ex: Executor, clock: Clock, clob: FakeClob, sell: asyncpg.Record, taken: Decimal
) -> None:
    """A counterparty takes ``taken`` of :func:`resting_exit`'s exit ``sell``, which then
    expires, an hour later at the exchange and on our clock; someone bids again (0.48) and the
    executor's maintenance closes the expired exit."""
    clob.fill(sell["exchange_order_id"], taken)
    clob.clock_offset += 3600  # an hour later, the exit has expired at the exchange ...
    assert clob.live_orders() == []
    clob.clock_offset = 0  # (the broker signs expirations with the real time)
    clock.offset += timedelta(hours=1)  # ... and on our clock
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # a bid again
    await ex.maintenance()  # closes the expired exit: it has ended now


async def new_market(
    clob: FakeClob, conn: asyncpg.Connection, n: int, *, ask: str | None = None
) -> tuple[str, int]:
    """Another market (condition id, YES token) known to the stand-in and the database."""
    market = "0x" + f"{n:02x}" * 32
    token = int("7" * 70) + 2 * n
    asks = {token: Decimal(ask)} if ask else {}
    clob.add_market(Market(condition_id=market, tokens=(token, token + 1), asks=asks))
    await add_token(conn, token, market, 0)
    await add_token(conn, token + 1, market, 1)
    return market, token


async def buys_in_new_markets(pool: asyncpg.Pool, clob: FakeClob, count: int) -> None:
    """The whale buys YES at 0.30 in ``count`` new markets (:func:`new_market` 1, 2, ...)."""
    async with pool.acquire() as conn:
        for n in range(1, count + 1):
            market, token = await new_market(clob, conn, n)
            await add_trade(conn, token_id=token, market=market, price="0.30")


async def age_exits(pool: asyncpg.Pool, by: timedelta) -> None:
    """Time passes on the database's clock: every signal and order happened ``by`` earlier (the
    pause before an exit is tried again is measured there). An order's close as its late-fill
    window reads it (``closed_at``) is the executor's clock's: left as it is.

    Each table is shifted by a statement of its own, while the executor's switches and
    reversals may still be writing in the background. Until 7 Dec 2026 the three were one
    transaction, signals first: it deadlocked with a switch's booking (an order, then its
    signal; the server's log: this transaction's ``UPDATE orderflow_orders`` against the
    booking's ``UPDATE orderflow_signals``) once in about 20 runs of two of this kit's test
    files at load 5 to 7, and PostgreSQL picked either as its victim. No order of the three
    tables avoids every cycle: a booking takes an order before its signal, a reversal its
    position's signal before its order (``trade_status``). A statement that holds rows of one
    table only waits for the executor's transactions instead of holding what they wait for (a
    retry stays for a cycle within one table)."""
    for table, columns in (
        ("orderflow_signals", ("created_at", "decided_at")),
        ("orderflow_orders", ("updated_at",)),
        ("orderflow_fill_trades", ("updated_at",)),  # when each trade last changed status
    ):
        shift = ", ".join(f"{c} = {c} - $1::interval" for c in columns)
        for attempt in range(5):
            try:
                await pool.execute(f"UPDATE {table} SET {shift}", by)
                break
            except asyncpg.DeadlockDetectedError:
                if attempt == 4:
                    raise


def gauge_value(name: str) -> float:
    """A gauge of one series, as ``/metrics`` shows it now."""
    (line,) = [ln for ln in generate_latest().decode().splitlines() if ln.startswith(name)]
    return float(line.rsplit(" ", 1)[1])


def metric_total(name: str) -> float:
    """The sum of a counter's series over all its labels, as ``/metrics`` shows it now."""
    total = 0.0
    for line in generate_latest().decode().splitlines():
        if line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total
