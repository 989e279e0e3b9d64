"""Fixtures for executor tests: rows as the listener and reputation stages write them."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.execution.broker import Broker, Mode
from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from orderflow.execution.settings import ExecutorSettings
from orderflow.strategy.settings import StrategySettings

WHALE = "0x" + "a1" * 20
DEGEN = "0x" + "d1" * 20
# A real market (Bitcoin Up or Down, Dec 31, 12:00-12:15 PM ET) and its CTF position ids.
MARKET = "0x2e6af11e4b853b05ba7135239b21d77e808889b6ce1e735de856c94c4e5b5fce"
TOKEN_YES = 8851848546962572193739008211889046036776198486765606333032192644001246174440
TOKEN_NO = 10181859819235412241349111952383458602722012323104397550162049365057126390549
# Another market, for tests that need two independent positions (one position per market).
MARKET_B = "0x" + "b2" * 32
_log_index = itertools.count(1)


def tx() -> str:
    return "0x" + secrets.token_hex(32)


async def add_token(conn: asyncpg.Connection, token_id: int, market: str, outcome: int) -> None:
    await conn.execute(
        "INSERT INTO orderflow_tokens (token_id, condition_id, outcome_index, generation, source)"
        " VALUES ($1, $2, $3, 'CTF', 'test') ON CONFLICT DO NOTHING",
        Decimal(token_id),
        market,
        outcome,
    )


async def add_complements(conn: asyncpg.Connection) -> None:
    """YES and NO of ``MARKET``, each the other's complement (the unified book)."""
    await add_token(conn, TOKEN_YES, MARKET, 0)
    await add_token(conn, TOKEN_NO, MARKET, 1)
    for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
        await conn.execute(
            "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
            Decimal(token),
            Decimal(other),
        )


async def add_wallet(
    conn: asyncpg.Connection,
    address: str,
    score: float,
    *,
    edge: float | None = 0.10,
    edge_se: float | None = 0.02,
    resolved_buys: int = 120,
) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_wallet_stats (wallet_address, reputation_score, trader_tier, edge,
            edge_se, resolved_buys)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (wallet_address) DO UPDATE SET reputation_score = EXCLUDED.reputation_score,
            edge = EXCLUDED.edge, edge_se = EXCLUDED.edge_se,
            resolved_buys = EXCLUDED.resolved_buys
        """,
        address,
        Decimal(str(score)),
        "WHALE" if score >= 7 else "DEGEN" if score <= 3 else "AVERAGE",
        edge,
        edge_se,
        resolved_buys,
    )


async def add_trade(
    conn: asyncpg.Connection,
    *,
    wallet: str = WHALE,
    side: str = "BUY",
    token_id: int = TOKEN_YES,
    price: str = "0.50",
    usdc: str = "500",
    at: datetime | None = None,
    market: str | None = MARKET,
    outcome_index: int | None = 0,
    traceparent: str | None = None,
    taker: bool = True,
    counterparty: str = "0x" + "7a" * 20,
) -> int:
    """A fill as the listener stores it: the taker's aggregate row (``taker``, taker = the
    exchange) or one maker's row (taker = the taker's address, ``counterparty``)."""
    price_d = Decimal(price)
    usdc_d = Decimal(usdc)
    return int(
        await conn.fetchval(
            """
            INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
                timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
                is_taker_aggregate, side, token_id, market_id, outcome_index, price, size,
                usdc_size, fee, fee_asset, traceparent)
            VALUES (137, $1, $2, 1, $3, $4, $5, 'V2', $6, $7, $8, $17, $9, $10, $11, $12, $13,
                    $14, $15, 0, 'COLLATERAL', $16)
            RETURNING id
            """,
            tx(),
            next(_log_index),
            tx(),
            at or datetime.now(UTC) - timedelta(seconds=1),
            "0xe111180000d2663c0091e4f400237545b87b996b",
            tx(),
            wallet,
            # the taker's row: taker = the exchange
            "0xe111180000d2663c0091e4f400237545b87b996b" if taker else counterparty,
            side,
            Decimal(token_id),
            market,
            outcome_index,
            price_d,
            (usdc_d / price_d).quantize(Decimal("0.000001")),
            usdc_d,
            traceparent,
            taker,
        )
    )


async def trade_at(
    conn: asyncpg.Connection,
    price: str,
    at: datetime,
    *,
    token_id: int = TOKEN_YES,
    market: str | None = MARKET,
    pairs: int = 3,
) -> None:
    """The market trades ``token_id`` at ``price`` at ``at``: ``pairs`` unrelated pairs of
    wallets (the same ones each call) match once each, a maker's row and its taker's, as the
    listener stores a match. What a position is marked at (one pair's prints cannot set the
    mark: :mod:`orderflow.signals.tape`)."""
    for n in range(pairs):
        taker, maker = "0x" + f"{0x61 + n:02x}" * 20, "0x" + f"{0x71 + n:02x}" * 20
        await add_trade(
            conn, wallet=maker, side="SELL", token_id=token_id, price=price, usdc="50", at=at,
            market=market, taker=False, counterparty=taker,
        )  # fmt: skip
        await add_trade(
            conn, wallet=taker, token_id=token_id, price=price, usdc="50", at=at, market=market
        )


# How long wait_for waits before the test fails. Not a bound the code is held to: what a
# background task does (a maintenance pass, the order worker, a kill's retries) comes seconds
# later on a loaded CI machine (a full run there took 37 minutes, 17 idle), so it is generous,
# as the operator tests' ``eventually``. A test that needs a condition sooner asserts a
# timing, which tests never do.
WAIT_SECS = 30.0
MAKER = "0x" + "3a" * 20  # a market maker nobody scored: its fills make no signal


async def reveal(
    conn: asyncpg.Connection,
    *,
    token_id: int = TOKEN_YES,
    met: str = "BUY",
    price: str,
    shares: str,
    at: datetime | None = None,
) -> None:
    """A maker's fill showing a level of ``token_id``'s book: an ask (met by a taker ``BUY``)
    or a bid (``SELL``) at ``price`` of ``shares``, stored with the time ``at`` (now)."""
    await add_trade(
        conn,
        wallet=MAKER,
        side="SELL" if met == "BUY" else "BUY",
        token_id=token_id,
        price=price,
        usdc=str(Decimal(shares) * Decimal(price)),
        at=at or datetime.now(UTC),
        taker=False,
    )


async def follow(pool: asyncpg.Pool, executor: Executor, **trade: Any) -> asyncpg.Record | None:
    """``executor`` reads its strategies and catches up with one stored fill,
    ``add_trade(**trade)`` (the whale's buy of YES by default): the first order stored, if any."""
    async with pool.acquire() as conn:
        await executor.registry.refresh(conn)
        await add_trade(conn, **trade)
    await executor.catch_up()
    return await pool.fetchrow("SELECT * FROM orderflow_orders ORDER BY id")


async def fill_resting(pool: asyncpg.Pool, executor: Executor) -> int:
    """The market shows liquidity at every resting paper order's limit, as large as what rests,
    and the executor reconciles: each fills in full. Returns the orders filled."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT token_id, side, price, shares - filled AS left FROM orderflow_paper_orders"
            " WHERE canceled_at IS NULL AND filled < shares AND expires_at > now()"
        )
        for r in rows:
            await reveal(
                conn,
                token_id=int(r["token_id"]),
                met=r["side"],
                price=str(r["price"]),
                shares=str(r["left"]),
            )
    await executor.desk.reconcile()
    return len(rows)


async def fill_when_resting(pool: asyncpg.Pool, executor: Executor, token_id: int) -> None:
    """Wait until a paper order of ``token_id`` rests (a running executor placed it), then
    :func:`fill_resting`."""

    async def placed() -> bool:
        return bool(
            await pool.fetchval(
                "SELECT count(*) FROM orderflow_paper_orders WHERE token_id = $1",
                Decimal(token_id),
            )
        )

    await wait_for(placed)
    await fill_resting(pool, executor)


async def resolve(conn: asyncpg.Connection, market: str, payouts: list[str]) -> None:
    await conn.execute(
        """
        INSERT INTO orderflow_market_outcomes (market_id, oracle, question_id,
            outcome_slot_count, payout_numerators, payouts, winning_outcome, resolved_at,
            chain_id, block_number, block_hash, tx_hash, log_index)
        VALUES ($1, $2, $3, $4, $5, $5, $6, now(), 137, 2, $7, $8, 0)
        """,
        market,
        "0x" + "0f" * 20,
        tx(),
        len(payouts),
        [Decimal(p) for p in payouts],
        next((i for i, p in enumerate(payouts) if Decimal(p) == 1), None),
        tx(),
        tx(),
    )


async def add_strategy(
    conn: asyncpg.Connection, name: str = "alpha", **settings: Any
) -> StrategySettings:
    model = StrategySettings.model_validate(settings)
    await conn.execute(
        "INSERT INTO orderflow_strategies (name, settings) VALUES ($1, $2)",
        name,
        model.model_dump(mode="json"),
    )
    return model


def executor_settings(**kw: Any) -> ExecutorSettings:
    base: dict[str, Any] = {
        "DATABASE_URL": None,
        "EXECUTOR_POLL_INTERVAL_SECS": 3.0,
        "EXECUTOR_STRATEGY_REFRESH_SECS": 0.5,
        "EXECUTOR_MAINTENANCE_SECS": 0.5,
        "EXECUTOR_HEARTBEAT_SECS": 0.5,
        "EXECUTOR_LEADER_RETRY_SECS": 0.2,
        "EXECUTOR_INSTANCE_ID": "test-" + secrets.token_hex(3),
    }
    base.update(kw)
    return ExecutorSettings(**base)


async def now_true(value: object) -> bool:
    """A condition already known, for :func:`wait_for` (which awaits its check)."""
    return bool(value)


async def signal_outcomes(pool: asyncpg.Pool) -> list[tuple[str, str, str]]:
    """Every signal's side, status and reason, in the order they were recorded."""
    rows = await pool.fetch("SELECT side, status, reason FROM orderflow_signals ORDER BY id")
    return [(r["side"], r["status"], r["reason"]) for r in rows]


async def wait_for(
    check: Callable[[], Awaitable[Any]], *, timeout: float = WAIT_SECS, every: float = 0.05
) -> Any:
    """Poll ``check`` until it returns something truthy (tests never assert timings: the
    timeout is a safety net for a loaded machine, only reached when the test fails)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(every)


async def leading(executor: Executor, timeout: float = WAIT_SECS) -> None:
    await asyncio.wait_for(executor.leading.wait(), timeout)


@contextlib.asynccontextmanager
async def running(executor: Executor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(executor.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
def make_executor(pool: asyncpg.Pool, dsn: str) -> Callable[..., Executor]:
    def make(brokers: dict[Mode, Broker] | None = None, **kw: Any) -> Executor:
        return Executor(pool, dsn, executor_settings(**kw), brokers or {"paper": PaperBroker(pool)})

    return make


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, dsn: str) -> Iterator[str]:
    handlers, level = logging.root.handlers[:], logging.root.level
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_FORMAT", "text")
    for name in (
        "EXECUTOR_STRATEGIES",
        "STRATEGY_NAME",
        "ENABLE_PAPER_TRADING",
        "POLY_PRIVATE_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    yield dsn
    # The CLI installs its own log handler on stderr; give the root logger back.
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


@pytest.fixture
async def clob() -> AsyncIterator[Any]:
    """The CLOB stand-in (tests/execution/fake_clob.py) with the test market."""
    from tests.execution.livekit import start_clob

    server = await start_clob()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def live(clob: Any) -> AsyncIterator[Any]:
    """The live broker: the official SDK, authenticated against the stand-in."""
    from tests.execution.livekit import login

    broker = await login(clob)
    try:
        yield broker
    finally:
        await broker.close()
