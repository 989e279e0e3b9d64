"""The backtest marks a position where the executor does, also when the last fill is at no price.

A token with no maker row seen is marked at its last traded price, by the executor's rule a
price that is a level (``orderflow.signals.tape.tape_price``: its last fill at a price strictly
between 0 and 1; ``orderflow.signals.quotes.is_level``). The chain emits fills of no shares
(tests/chain/test_zero_fills.py: stored at price 0) and wash pairs print at 1.00. The
backtest's tape (``Tape.last_price``, ``Tape.midnight_price``) took any last fill: a position
the executor marks at 0.40 was marked at 0 after a fill of no shares, at 1.00 after a print
there (until 6 Dec 2026).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest.history import stream_trades
from orderflow.backtest.tape import Tape
from orderflow.execution.position_queries import mark_price
from tests.backtest.factory import History, addr, token_of

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("price", "shares"), [("0", "0"), ("1.00", "50")], ids=["no shares", "print at 1"]
)
async def test_the_last_fill_at_no_price_is_no_mark(
    pool: asyncpg.Pool, price: str, shares: str
) -> None:
    h = History()
    market = h.market("marks")
    h.trade(addr("buyer"), market, 0, "BUY", "0.40", "100", T0)
    h.trade(addr("other"), market, 0, "BUY", price, shares, T0 + timedelta(minutes=5))
    await h.store(pool)
    token = token_of(market, 0)
    async with pool.acquire() as conn:
        executor = await conn.fetchval(f"SELECT {mark_price('$1::numeric')}", Decimal(token))
        tape = Tape(3600)
        async for fill in stream_trades(conn, T0 - timedelta(hours=1), T0 + timedelta(hours=1)):
            tape.observe(fill.view, taker=fill.taker, complement=fill.complement,
                         counterparty=fill.counterparty)  # fmt: skip
    assert executor == Decimal("0.40")
    marks = (tape.last_price(token), tape.midnight_price(token, T0.date() + timedelta(days=1)))
    assert marks == (executor, executor), (
        f"the backtest marks the position at {marks} (now, next midnight); the executor at"
        f" {executor}"
    )
