"""An order lives as long as its strategy says (``order_ttl_secs``), entries and exits alike.

Every order used to live a fixed 300 s, whatever the strategy: the backtest, which fills from
the book revealed within the strategy's order life, could not describe what the executor does.
Paper: the paper exchange's ``expires_at``; live: the signed order's GTD ``expiration`` as the
CLOB received it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy

LIFE = 1200  # 20 minutes, not the 5 every order used to get
SLACK = 5  # seconds between signing an order and the exchange accepting it, rounding included


async def test_paper_orders_expire_after_the_strategy_s_order_life(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The entry and the exit that follows the leader out both rest ``order_ttl_secs``."""
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", orderTtlSecs=LIFE)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", price="0.60", usdc="300", at=datetime.now(UTC))
    assert await ex.catch_up() == 1
    rows = await pool.fetch(
        "SELECT side, extract(epoch FROM expires_at - accepted_at) AS life"
        " FROM orderflow_paper_orders ORDER BY accepted_at"
    )
    assert [r["side"] for r in rows] == ["BUY", "SELL"]
    for r in rows:
        assert abs(float(r["life"]) - LIFE) < SLACK, (r["side"], r["life"])


async def test_live_orders_are_signed_to_expire_after_the_strategy_s_order_life(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A live entry that fills and the exit after the leader's sell: both GTD expirations the
    CLOB received are ``order_ttl_secs`` ahead."""
    await live_strategy(pool, orderTtlSecs=LIFE)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    sent = datetime.now(UTC).timestamp()
    await ex.catch_up()
    assert await pool.fetchval("SELECT filled_shares > 0 FROM orderflow_orders")
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # the exit crosses
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.48")
    await ex.catch_up()
    rows = await pool.fetch("SELECT side, exchange_order_id FROM orderflow_orders ORDER BY id")
    assert [r["side"] for r in rows] == ["BUY", "SELL"]
    for r in rows:
        expiration = int(clob.orders[r["exchange_order_id"]]["expiration"])
        assert abs(expiration - sent - LIFE) < SLACK, (r["side"], expiration - sent)
