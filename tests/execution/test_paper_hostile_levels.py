"""The paper exchange against odd maker fills: none makes a paper order fill for free, at a price
no order can rest at, or from a level of another market.

The chain shows whatever was traded: a wash ring can trade at price 0 (shares given away) or a
listener can store a fill priced at or above 1, and the token registry's complement is data like
any other. Before, a paper BUY priced from a hostile quote of 0 (the latest ask a price-0 fill;
:mod:`orderflow.signals.quotes` takes it as it is) took a price-0 "ask" and got its shares for
nothing, and a complement mapping that pointed a token at itself turned every bid of the token
into an ask of it at ``1 - p``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.broker import OrderRequest
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    add_complements,
    add_token,
    reveal,
)

OTHER_TOKEN = 4242


async def _rest(
    pool: asyncpg.Pool, side: str, price: str, quote: str, shares: str = "100"
) -> tuple[PaperBroker, str]:
    broker = PaperBroker(pool)
    prepared = await broker.prepare(
        OrderRequest(
            strategy="alpha",
            token_id=TOKEN_YES,
            side=side,  # type: ignore[arg-type]
            price=Decimal(price),
            shares=Decimal(shares),
            observed_price=Decimal(quote),
        )
    )
    await broker.send(prepared)
    return broker, prepared.client_order_id


async def _filled(broker: PaperBroker, key: str) -> list[tuple[Decimal, Decimal]]:
    read = await broker.fills([key], datetime.now(UTC) - timedelta(hours=1))
    return [(f.fill.price, f.fill.shares) for f in read.fills]


async def test_a_price_zero_fill_is_no_ask_to_buy_from(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
    # The quote a price-0 ask gives, and the lowest limit the executor sends (one tick).
    broker, key = await _rest(pool, "BUY", "0.01", quote="0")
    async with pool.acquire() as conn:
        await reveal(conn, price="0.001", shares="1000")
        # 1,000 shares for nothing: a gift, not an order
        await conn.execute(
            "UPDATE orderflow_trades SET price = 0, usdc_size = 0 WHERE price < 0.01"
        )
        await reveal(conn, price="0.01", shares="3")
    assert await _filled(broker, key) == [(Decimal("0.01"), Decimal(3))]


async def test_a_bid_at_or_above_one_pays_no_seller(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
    broker, key = await _rest(pool, "SELL", "0.99", quote="1.5")
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price="1.5", shares="50")
        await reveal(conn, met="SELL", price="1", shares="50")
        await reveal(conn, met="SELL", price="0.99", shares="2")
    assert await _filled(broker, key) == [(Decimal("0.99"), Decimal(2))]


async def test_a_complement_pointing_at_itself_turns_no_bid_into_an_ask(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await conn.execute(
            "UPDATE orderflow_tokens SET complement_token_id = token_id WHERE token_id = $1",
            Decimal(TOKEN_YES),
        )
    broker, key = await _rest(pool, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        # A maker BUYING YES at 0.60 (a seller hit it): a bid above ours, whose seller never met
        # our 0.51 — read through the token as its own complement, an ask of YES at 0.40.
        await reveal(conn, met="SELL", price="0.60", shares="40")
    assert await _filled(broker, key) == []


async def test_a_complement_in_another_market_is_not_the_unified_book(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, OTHER_TOKEN, MARKET_B, 1)
        await conn.execute(
            "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
            Decimal(TOKEN_YES),
            Decimal(OTHER_TOKEN),
        )
    broker, key = await _rest(pool, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        # A bid of another market's token says nothing about YES's asks.
        await reveal(conn, token_id=OTHER_TOKEN, met="SELL", price="0.49", shares="40")
    assert await _filled(broker, key) == []


async def test_the_true_complement_still_fills(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await add_complements(conn)
    broker, key = await _rest(pool, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        await reveal(conn, token_id=TOKEN_NO, met="SELL", price="0.49", shares="40")
    assert await _filled(broker, key) == [(Decimal("0.51"), Decimal(40))]


async def test_a_fill_of_no_shares_or_collateral_crosses_no_resting_order(
    pool: asyncpg.Pool,
) -> None:
    """Control (passed before): the chain's fills of no shares or no collateral (stored at price
    0: Trading.sol fills 0 and rounds ``taking`` down) are no flow through a resting BUY either —
    a SELL at 0 below its limit, of no shares or of shares for nothing, and the mirror of a
    complement's zero-share print (a bid of YES at 1) fill nothing at the limit."""
    async with pool.acquire() as conn:
        await add_complements(conn)
    broker, key = await _rest(pool, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        for token, met, shares in (
            (TOKEN_YES, "BUY", "0"),  # an ask of no shares
            (TOKEN_YES, "SELL", "0"),  # a bid a seller hit with no shares
            (TOKEN_YES, "SELL", "100"),  # 100 shares sold for nothing
            (TOKEN_NO, "BUY", "0"),  # NO's ask of no shares: a bid of YES at 1
            (TOKEN_NO, "SELL", "100"),  # NO's bid hit for nothing: an ask of YES at 1
        ):
            await reveal(conn, token_id=token, met=met, price="0.40", shares="1")
            await conn.execute(  # stored as the listener stores it: at price 0
                "UPDATE orderflow_trades SET price = 0, size = $1, usdc_size = 0"
                " WHERE id = (SELECT max(id) FROM orderflow_trades)",
                Decimal(shares),
            )
    assert await _filled(broker, key) == []
