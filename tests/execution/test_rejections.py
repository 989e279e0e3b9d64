"""The stand-in refuses what the real CLOB refuses, with its statuses and bodies, and the executor
records each refusal on the signal (nothing booked, nothing counted afterwards); a neg-risk market
takes orders signed for the neg-risk exchange."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import asyncpg
import pytest

from orderflow.execution.broker import OrderRequest
from orderflow.execution.live import LiveBroker
from tests.execution.clob_market import Market
from tests.execution.clob_signing import STANDARD_EXCHANGE, exchange_for
from tests.execution.conftest import TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def _one_buy(pool: asyncpg.Pool, dsn: str, live: LiveBroker, **trade: object) -> str:
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, **trade)
    row = await pool.fetchrow("SELECT status, reason FROM orderflow_signals")
    assert row["status"] == "SKIPPED"
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills") == 0
    assert await pool.fetchval("SELECT status FROM orderflow_orders") == "REJECTED"
    return str(row["reason"])


def _request(side: Literal["BUY", "SELL"], price: str, shares: str) -> OrderRequest:
    return OrderRequest(
        strategy="s",
        token_id=TOKEN_YES,
        side=side,
        price=Decimal(price),
        shares=Decimal(shares),
        observed_price=Decimal(price),
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("collateral", "not enough balance / allowance"),
        ("allowance", "not enough balance / allowance"),
        ("min_size", "lower than the minimum: 5000"),
        ("rate_limit", "http 429"),
    ],
)
async def test_refusals_are_recorded_on_the_signal(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, setup: str, message: str
) -> None:
    await live_strategy(pool)
    if setup in ("collateral", "allowance"):
        # The wallet's balance read before the order says plenty (another program spent it
        # since, say): the executor's own check lets it through (test_shared_wallet.py refuses
        # it when the read tells), and the exchange refuses it.
        # (to the exchange that settles the market: a standard one's, the CTF exchange)
        allowances = {STANDARD_EXCHANGE: str(10**12)}
        clob.balance_patch = {"balance": str(10**12), "allowances": allowances}
    if setup == "collateral":
        clob.collateral = Decimal(10)
    elif setup == "allowance":
        clob.allowance = False
    elif setup == "min_size":
        clob.markets[TOKEN_YES].min_size = Decimal(5000)
        # The executor reads the market's minimum from its book and would not send the order
        # (test_market_minimum.py); with the book unreadable it falls back to the strategy's.
        clob.fail("GET", "/book", 503)
    else:
        # twice: an entry refused 429 is sent once more while its signal is useful
        # (orderflow.execution.order_pacing; test_signer_pacing.py)
        clob.fail("POST", "/order", 429, times=2)
    reason = await _one_buy(pool, dsn, live, token_id=TOKEN_YES, price="0.50")
    assert reason.startswith("order_rejected") and message in reason, reason
    assert [o for o in clob.orders.values() if o["status"] == "LIVE"] == []


async def test_a_sell_beyond_the_shares_held_is_refused(clob: FakeClob, live: LiveBroker) -> None:
    outcome = await live.send(await live.prepare(_request("SELL", "0.40", "10")))
    assert outcome.status == "REJECTED" and "not enough balance / allowance" in (
        outcome.reason or ""
    )


async def test_a_neg_risk_market_takes_orders_signed_for_its_exchange(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    from tests.execution.conftest import add_token

    await live_strategy(pool)
    market = "0x" + "4e" * 32
    token = int("5" * 70)
    clob.add_market(
        Market(market, (token, token + 1), neg_risk=True, asks={token: Decimal("0.50")})
    )
    async with pool.acquire() as conn:
        await add_token(conn, token, market, 0)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=token, market=market, price="0.50")
    assert clob.rejections == []
    row = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert row["status"] == "FILLED" and row["exchange_order_id"] in clob.orders
    exchange, _ = exchange_for(token, clob.markets[token].neg_risk)
    assert exchange.lower().startswith("0xe2222")  # the neg-risk CTF exchange


async def test_a_marketable_buy_under_one_dollar_is_refused(
    clob: FakeClob, live: LiveBroker
) -> None:
    """The real CLOB refuses a marketable BUY worth under $1 on top of the size minimum (HTTP 400
    ``invalid amount for a marketable BUY order ($0.7), min size: $1``); the stand-in accepted
    it. A BUY under $1 that does not cross rests: the dollar minimum is for marketable BUYs."""
    market = clob.markets[TOKEN_YES]
    market.asks[TOKEN_YES] = Decimal("0.14")
    crossing = await live.send(await live.prepare(_request("BUY", "0.14", "5")))
    assert crossing.status == "REJECTED", crossing
    assert "invalid amount for a marketable BUY order ($0.7), min size: $1" in (
        crossing.reason or ""
    ), crossing.reason
    assert crossing.reason is not None and crossing.reason.startswith("http 400")
    resting = await live.send(await live.prepare(_request("BUY", "0.13", "5")))
    assert resting.status == "OPEN", resting
    enough = await live.send(await live.prepare(_request("BUY", "0.20", "5")))
    assert enough.status == "FILLED", enough
