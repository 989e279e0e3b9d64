"""The high a panic sell fell from is the market's: not the seller's own buy, not a print at 1.

FADE_DEGEN fades a SELL at least ``fade_price_drop`` below "the token's highest traded price
during the ``fade_window_secs`` before the fill" (docs/executor.md). That high was the highest
of every row in the window:

* the seller's own: a degen that bought at 0.60 by taking the asks above a market trading at
  0.51 (its taker row and its makers' rows print 0.60) and sells at 0.50 minutes later closes
  its own position — the "drop" is the spread it crossed twice, the market did not fall — and
  was faded as a panic (a 17 % drop from its own price);
* a print at 1.00 (no price: :func:`orderflow.signals.quotes.is_level`), which made any sale
  under 0.90 a panic.

Both were FADE_DEGEN accepted (a BUY at the ask); the market's high, 0.51, makes no signal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    DEGEN,
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    trade_at,
)

OTHER_TAKER, OTHER_MAKER = "0x" + "5b" * 20, "0x" + "5c" * 20


async def _round_trip(conn: asyncpg.Connection, at: datetime) -> None:
    """The degen takes two asks, 0.55 and 0.60, of makers who sold to it: it paid 0.575."""
    for price in ("0.55", "0.60"):
        await add_trade(conn, wallet=OTHER_MAKER, side="SELL", price=price, usdc="150", at=at,
                        taker=False, counterparty=DEGEN)  # fmt: skip
    await add_trade(conn, wallet=DEGEN, price="0.575", usdc="300", at=at)


async def _print_at_one(conn: asyncpg.Connection, at: datetime) -> None:
    """A match at 1.00 between two wallets nobody scored."""
    await add_trade(conn, wallet=OTHER_MAKER, side="SELL", price="1.00", usdc="60", at=at,
                    taker=False, counterparty=OTHER_TAKER)  # fmt: skip
    await add_trade(conn, wallet=OTHER_TAKER, price="1.00", usdc="60", at=at)


@pytest.mark.parametrize("high", [_round_trip, _print_at_one], ids=["own buy", "print at 1"])
async def test_no_panic_without_the_market_falling(
    pool: asyncpg.Pool,
    make_executor: Callable[..., Executor],
    high: Callable[[asyncpg.Connection, datetime], Awaitable[None]],
) -> None:
    ex = make_executor()
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", enable_degen_fading=True, enable_whale_following=False)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await add_wallet(conn, DEGEN, 1.5, edge=-0.20, edge_se=0.04)
        await ex.registry.refresh(conn)
        await trade_at(conn, "0.51", now - timedelta(minutes=12))  # the market: 0.51
        await high(conn, now - timedelta(minutes=10))
        await trade_at(conn, "0.51", now - timedelta(minutes=5))
        await add_trade(conn, wallet=DEGEN, side="SELL", price="0.50", usdc="300",
                        at=now - timedelta(seconds=1))  # fmt: skip
    await ex.catch_up()
    rows = await pool.fetch("SELECT signal_type, status, reason, inputs FROM orderflow_signals")
    signals = [
        (r["signal_type"], r["status"], r["reason"], r["inputs"]["market"]["window_high"])
        for r in rows
    ]
    assert signals == [], (
        f"the degen's sale at 0.50 in a market trading at 0.51 was faded (type, status, reason,"
        f" window high): {signals}"
    )
