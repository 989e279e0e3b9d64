"""A print at 0, or at 1 or more, is no price: the tape price leaves it out, as the quote does.

The quote (:func:`orderflow.signals.quotes.quote`) reads no level from such a print (the CLOB
rests orders strictly between 0 and 1), but the tape price it is held to
(:func:`orderflow.signals.tape.tape_price`) took every maker row: three wash pairs printing at
1.00 made the tape 1.00, and the honest bid the leader's sale showed (0.48) was "held" to it. The
exit of a followed position went out as a SELL at 0.99 — above every bid, never filled, the
position held after its leader had left.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.signals.tape import TokenPrints, tape_price
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    trade_at,
)


async def test_prints_at_one_do_not_price_the_exit(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await trade_at(conn, "1.00", datetime.now(UTC))  # three wash pairs at 1.00
        await add_trade(conn, side="SELL", price="0.48", usdc="300", at=datetime.now(UTC))
        tape = await conn.fetchval(f"SELECT {tape_price('$1::numeric')}", Decimal(TOKEN_YES))
    await ex.catch_up()
    exit_order = await pool.fetchrow(
        "SELECT price, shares FROM orderflow_orders WHERE side = 'SELL'"
    )
    assert exit_order is not None
    assert exit_order["price"] == Decimal("0.47"), (
        f"the leader sold at 0.48 and the exit went out at {exit_order['price']} (tape price"
        f" {tape}, of prints at 1.00): {exit_order['shares']} shares offered above every bid"
    )


def test_the_in_memory_tape_leaves_them_out_too() -> None:
    """The backtest's tape (:class:`TokenPrints`) keeps the same rule as the SQL."""
    from orderflow.signals.tape import Print

    at = datetime(2026, 5, 1, tzinfo=UTC)
    prints = TokenPrints()
    prints.own.add(Print(at, 1, ("0xa", "0xb"), Decimal("0.48")))
    for n, price in enumerate(("1", "1.20", "0", "1")):
        prints.own.add(Print(at, 2 + n, (f"0xc{n}", f"0xd{n}"), Decimal(price)))
    assert prints.price() == Decimal("0.48")


async def test_a_buy_at_one_is_not_followed(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A whale's fill at 1.00 is no decision at a price (no order rests there): it was
    followed at the market's ask, 0.51, as if the whale had bought at the market."""
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await trade_at(conn, "0.50", datetime.now(UTC))
        await add_trade(conn, price="1.00", usdc="600", at=datetime.now(UTC))
    await ex.catch_up()
    rows = await pool.fetch(
        "SELECT s.status, s.reason, o.shares, o.price FROM orderflow_signals s"
        " LEFT JOIN orderflow_orders o ON o.signal_id = s.id"
    )
    assert rows == [], f"a buy at 1.00 was followed: {[tuple(r) for r in rows]}"
