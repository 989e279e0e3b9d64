"""What a paper order pays: the ask a taker would meet (a bid for a sell), never the last trade.

A FADE_DEGEN signal is a panic sell: its price is a *bid* the panicking seller hit. Buying at it
plus slippage fills about a spread below any ask, which no live order could do. These histories
put the ask somewhere the chain shows it (a taker buying the token, a maker selling it, a maker
bidding for the other outcome) and check the paper order is priced at it (an ask shown at
that limit afterwards fills it there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    DEGEN,
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
)

OTHER = "0x" + "99" * 20
# A binary market whose two outcome tokens know each other (as the listener stores them).
PAIR_MARKET = "0x" + "e4" * 32
PAIR_YES, PAIR_NO = 701, 702


async def _setup(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", enableDegenFading=True)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        for token, outcome, other in ((PAIR_YES, 0, PAIR_NO), (PAIR_NO, 1, PAIR_YES)):
            await add_token(conn, token, PAIR_MARKET, outcome)
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(token),
                Decimal(other),
            )
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await add_wallet(conn, DEGEN, 1.0, edge=-0.15, edge_se=0.03)
        await ex.registry.refresh(conn)


def _ago(minutes: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def _panic(conn: asyncpg.Connection, token: int = TOKEN_YES, market: str = MARKET) -> None:
    """The degen dumps the token at 0.45 (a bid), 25 % below the window's high of 0.60."""
    await add_trade(conn, wallet=DEGEN, side="SELL", token_id=token, market=market, price="0.45")


async def _signal_and_fill(pool: asyncpg.Pool) -> tuple[asyncpg.Record, asyncpg.Record | None]:
    async with pool.acquire() as conn:
        sig = await conn.fetchrow(
            "SELECT * FROM orderflow_signals WHERE wallet_address = $1", DEGEN
        )
        fill = await conn.fetchrow("SELECT * FROM orderflow_fills")
    assert sig is not None and sig["signal_type"] == "FADE_DEGEN"
    return sig, fill


async def test_fade_after_a_panic_sell_pays_the_ask_not_the_sellers_bid(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=OTHER, price="0.60", at=_ago(5))  # the window's high
        await add_trade(conn, wallet=OTHER, price="0.47", at=_ago(1))  # a taker paid the 0.47 ask
        await _panic(conn)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1  # an ask at its limit: filled there
    sig, fill = await _signal_and_fill(pool)
    assert (sig["status"], sig["reason"]) == ("EXECUTED", "filled")
    assert fill is not None
    # The ask plus 20 bps, up to the tick: 0.47 x 1.002 -> 0.48 (at the seller's bid: 0.46).
    assert fill["price"] == Decimal("0.48")
    assert sig["inputs"]["market"]["last_price"] == "0.4700000000"


async def test_the_ask_read_from_the_other_outcomes_bid(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A maker's bid of NO at 0.53 filled a minute ago is an ask of YES at 0.47 (a mint)."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        # The window's high, seen only as a bid of YES (a taker selling into it).
        await add_trade(
            conn, wallet=OTHER, side="SELL", token_id=PAIR_YES, market=PAIR_MARKET,
            price="0.60", at=_ago(5),
        )  # fmt: skip
        await add_trade(
            conn, wallet=OTHER, side="BUY", token_id=PAIR_NO, market=PAIR_MARKET,
            price="0.53", outcome_index=1, at=_ago(1), taker=False,
        )  # fmt: skip
        await _panic(conn, PAIR_YES, PAIR_MARKET)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1  # an ask at its limit: filled there
    sig, fill = await _signal_and_fill(pool)
    assert (sig["status"], sig["reason"]) == ("EXECUTED", "filled")
    assert fill is not None and fill["price"] == Decimal("0.48")


async def test_a_panic_sell_into_a_wide_spread_is_not_bought_at_the_bid(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The last ask was the window's high, 0.60: the fade would pay 15 cents over the panic
    price, more than ``max_price_move`` allows (live, a limit at 0.46 would not cross it)."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=OTHER, price="0.60", at=_ago(5))
        await _panic(conn)
    await ex.catch_up()
    sig, fill = await _signal_and_fill(pool)
    assert (sig["status"], sig["reason"], fill) == ("SKIPPED", "price_moved", None)


async def test_no_ask_seen_no_paper_fill(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Only bids in the window (takers selling): nothing says what a buyer would pay."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=OTHER, side="SELL", price="0.60", at=_ago(5))
        await add_trade(conn, wallet=OTHER, price="0.47", at=_ago(45))  # an ask, too long ago
        await _panic(conn)
    await ex.catch_up()
    sig, fill = await _signal_and_fill(pool)
    assert (sig["status"], sig["reason"], fill) == ("SKIPPED", "no_price", None)


async def test_follow_pays_the_level_the_whale_left_not_its_average(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The whale's buy took asks at 0.49 and 0.51 (0.50 on average): the next ask is 0.51 or
    more, and following it pays that plus slippage, no better than the whale's worst level."""
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        at = _ago(1 / 60)
        await add_trade(conn, wallet=OTHER, side="SELL", price="0.49", at=at, taker=False)
        await add_trade(conn, wallet=OTHER, side="SELL", price="0.51", at=at, taker=False)
        await add_trade(conn, price="0.50", usdc="600", at=at)
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1  # an ask at its limit: filled there
    async with pool.acquire() as conn:
        fill = await conn.fetchrow("SELECT * FROM orderflow_fills")
    assert fill is not None and fill["price"] == Decimal("0.52")  # 0.51 x 1.002, up to the tick
