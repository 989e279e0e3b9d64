"""The paper exchange's resting order meets the price falling through it (adverse selection).

A paper order rests at its limit like a live GTD order; on the CLOB a seller who arrives while it
rests at a price below a BUY's limit meets it first (price priority) and fills it at the limit,
as maker. Before, the paper exchange only let the order take, as a taker, the offers that could
have been resting on arrival: an order the price fell through stayed unfilled, and its paper P&L
was spared every loss a live bid would have taken (docs/backtest.md "Limits").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.broker import OrderRequest
from orderflow.execution.paper import PaperBroker
from tests.execution.conftest import MARKET, TOKEN_NO, TOKEN_YES, add_token, reveal

FEE = Decimal("0.02")


async def _market(pool: asyncpg.Pool, complements: bool = False) -> None:
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        if complements:
            for token, other in ((TOKEN_YES, TOKEN_NO), (TOKEN_NO, TOKEN_YES)):
                await conn.execute(
                    "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                    Decimal(token),
                    Decimal(other),
                )


async def _rest(broker: PaperBroker, side: str, price: str, quote: str, shares: str = "100") -> str:
    prepared = await broker.prepare(
        OrderRequest(
            strategy="alpha",
            token_id=TOKEN_YES,
            side=side,  # type: ignore[arg-type]
            price=Decimal(price),
            shares=Decimal(shares),
            observed_price=Decimal(quote),
            fee_rate=FEE,
        )
    )
    await broker.send(prepared)
    return prepared.client_order_id


async def _fills(broker: PaperBroker, key: str) -> list[tuple[Decimal, Decimal, Decimal]]:
    read = await broker.fills([key], datetime.now(UTC) - timedelta(hours=1))
    return [(f.fill.price, f.fill.shares, f.fill.fee) for f in read.fills]


async def test_a_seller_below_the_limit_fills_the_resting_bid_at_its_limit(
    pool: asyncpg.Pool,
) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    key = await _rest(broker, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        # The price falls: a taker sells 30 YES into someone's bid at 0.45. Our bid at 0.51 was
        # better: the seller met it first, at 0.51, and we were the maker (no fee).
        await reveal(conn, met="SELL", price="0.45", shares="30")
    assert await _fills(broker, key) == [(Decimal("0.51"), Decimal(30), Decimal(0))]


async def test_an_ask_posted_below_the_quote_crosses_the_resting_bid(pool: asyncpg.Pool) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    key = await _rest(broker, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        # Posted after the decision (it would have been the quote), at 0.20: a cross through our
        # bid — the operator matches it with the best bid, ours, at our price.
        await reveal(conn, price="0.20", shares="1000")
    assert await _fills(broker, key) == [(Decimal("0.51"), Decimal(100), Decimal(0))]


async def test_flow_at_or_beyond_the_limit_does_not_touch_the_order(pool: asyncpg.Pool) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    key = await _rest(broker, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price="0.55", shares="50")  # sold into a better bid
        await reveal(conn, met="SELL", price="0.51", shares="50")  # a bid at ours, maybe older
        await reveal(conn, price="0.52", shares="50")  # an ask above the limit
    assert await _fills(broker, key) == []


async def test_offers_on_arrival_first_then_the_flow_at_the_limit(pool: asyncpg.Pool) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    key = await _rest(broker, "BUY", "0.51", quote="0.50", shares="40")
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price="0.40", shares="25")  # the price falls through us
        await reveal(conn, price="0.50", shares="30")  # an offer resting when we arrived
    fills = await _fills(broker, key)
    assert sorted(fills) == [
        (Decimal("0.50"), Decimal(30), Decimal("0.150000")),  # taker: 30 x 0.02 x 0.25
        (Decimal("0.51"), Decimal(10), Decimal(0)),
    ]


async def test_the_complements_flows_meet_the_bid_through_the_unified_book(
    pool: asyncpg.Pool,
) -> None:
    await _market(pool, complements=True)
    broker = PaperBroker(pool)
    key = await _rest(broker, "BUY", "0.51", quote="0.50")
    async with pool.acquire() as conn:
        # A taker bought 20 NO at 0.62 from a maker's ask: a BUY of NO meets our BUY of YES
        # by minting (0.51 + 0.62 >= 1), ours first — a bid of YES at 0.38 in the unified book.
        await reveal(conn, token_id=TOKEN_NO, met="BUY", price="0.62", shares="20")
        # A maker's bid for NO at 0.70 (an ask of YES at 0.30, below the quote) was hit: posted
        # while we rested, it crossed our bid by minting.
        await reveal(conn, token_id=TOKEN_NO, met="SELL", price="0.70", shares="15")
        # A taker bought NO at 0.45 (YES at 0.55): above our bid, no mint with it.
        await reveal(conn, token_id=TOKEN_NO, met="BUY", price="0.45", shares="500")
    assert sorted(await _fills(broker, key)) == [
        (Decimal("0.51"), Decimal(15), Decimal(0)),
        (Decimal("0.51"), Decimal(20), Decimal(0)),
    ]


async def test_a_buyer_above_the_limit_fills_the_resting_sell(pool: asyncpg.Pool) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    key = await _rest(broker, "SELL", "0.49", quote="0.50")
    async with pool.acquire() as conn:
        await reveal(conn, met="BUY", price="0.56", shares="12")  # a taker bought an ask at 0.56
        await reveal(conn, met="SELL", price="0.70", shares="8")  # a bid posted above the quote
        await reveal(conn, met="BUY", price="0.49", shares="500")  # an ask at ours: not ours
        await reveal(conn, met="BUY", price="0.40", shares="500")  # a buyer below our ask
    assert sorted(await _fills(broker, key)) == [
        (Decimal("0.49"), Decimal(8), Decimal(0)),
        (Decimal("0.49"), Decimal(12), Decimal(0)),
    ]


async def test_a_sellers_shares_meet_our_resting_orders_once(pool: asyncpg.Pool) -> None:
    await _market(pool)
    broker = PaperBroker(pool)
    older = await _rest(broker, "BUY", "0.51", quote="0.50", shares="20")
    newer = await _rest(broker, "BUY", "0.51", quote="0.50", shares="20")
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price="0.45", shares="30")
    assert await _fills(broker, older) == [(Decimal("0.51"), Decimal(20), Decimal(0))]
    assert await _fills(broker, newer) == [(Decimal("0.51"), Decimal(10), Decimal(0))]
    assert await _fills(broker, older) == [(Decimal("0.51"), Decimal(20), Decimal(0))]  # again
    assert await pool.fetchval("SELECT sum(shares) FROM orderflow_paper_matches") == 30
