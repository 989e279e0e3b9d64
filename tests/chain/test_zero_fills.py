"""Fills with no shares or no collateral: the chain emits them, they are stored, none is a price.

Polymarket's CTF Exchange (``Trading.sol``) checks no fill amount for zero: ``_fillOrder`` and
``_matchOrders`` / ``_fillMakerOrder`` take ``making = fillAmount`` (0 passes
``_updateOrderStatus``: 0 <= remaining) and compute ``taking = making * takerAmount /
makerAmount`` rounding down (``CalculatorHelper.calculateTakingAmount``), so an operator's fill
of 0, or a SELL of a few base units of shares at a low price, emits an OrderFilled with
makerAmountFilled or takerAmountFilled 0 (and an OrdersMatched alike). Such a log is a trade the
chain emitted: stored once, like any. Its row: ``size`` and ``usdc_size`` as emitted (one or
both 0), ``price`` 0 (``store_sql.INSERT_TRADES``: collateral / shares, 0 when no shares; the
column is NOT NULL CHECK (price >= 0)). A price of 0 is no level
(``orderflow.signals.quotes.is_level``): no quote, tape price, window high or leader's decision
reads it (the first test: a control, it passed before any change). A fill of no shares is no
leader leaving a token either (the second: before, it was one).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.store import store_batch
from orderflow.signals.decisions import is_decision_row
from orderflow.signals.market_queries import left_since
from orderflow.signals.quotes import Seen, is_level, quote
from orderflow.signals.tape import tape_price
from orderflow.signals.views import TradeView
from tests.chain.factory import addr, at, h32

ALICE, BOB = addr(0xA11CE), addr(0xB0B)
TOKEN = 77


def _logs() -> list[dict[str, object]]:
    ex = c.V2_CTF_EXCHANGE
    fills: list[tuple[Literal["BUY", "SELL"], int, int]] = [
        # (side, shares, collateral): a fill of 0, a sale rounding its proceeds to 0
        ("SELL", 0, 0),
        ("SELL", 3, 0),
        ("BUY", 0, 5),
    ]
    logs: list[dict[str, object]] = []
    for i, (side, shares, collateral) in enumerate(fills):
        logs.append(
            encode_fill(
                "V2",
                at=at(2, 2 * i, 7 + i),
                order_hash=h32(0xA0 + i),
                maker=ALICE,
                taker=BOB,
                side=side,
                shares=shares,
                collateral=collateral,
                token_id=TOKEN,
                exchange=ex,
            )
        )
        logs.append(
            encode_match(
                "V2",
                at=at(2, 2 * i + 1, 7 + i),
                taker_order_hash=h32(0xB0 + i),
                taker_order_maker=BOB,
                side="BUY" if side == "SELL" else "SELL",
                shares=shares,
                collateral=collateral,
                token_id=TOKEN,
                exchange=ex,
            )
        )
    return logs


async def test_zero_share_fills_are_stored_once_at_price_zero(pool: asyncpg.Pool) -> None:
    for _ in range(2):  # the same logs again (a replay, a backfill after the subscription)
        batch = decode_batch(_logs(), 137, c.MAINNET)
        assert not batch.dead_letters
        async with pool.acquire() as conn:
            await store_batch(conn, batch, chain_id=137)
    trades = await pool.fetch(
        "SELECT log_index, price, size, usdc_size FROM orderflow_trades ORDER BY log_index"
    )
    assert [tuple(r) for r in trades] == [
        (0, Decimal(0), Decimal(0), Decimal(0)),
        (2, Decimal(0), Decimal("0.000003"), Decimal(0)),
        (4, Decimal(0), Decimal(0), Decimal("0.000005")),
    ]
    matches = await pool.fetch("SELECT price FROM orderflow_matches ORDER BY log_index")
    assert [r["price"] for r in matches] == [Decimal(0)] * 3
    # the signals' readers: no tape price, no quote, no decision of these rows
    assert await pool.fetchval(f"SELECT {tape_price('$1::numeric')}", TOKEN) is None
    now = datetime(2026, 12, 6, tzinfo=UTC)
    assert quote([Seen(now, "BUY", r["price"]) for r in trades], "BUY") is None
    assert not any(is_level(r["price"]) for r in trades)
    row = TradeView(
        chain_id=137,
        tx_hash=h32(7),
        log_index=0,
        wallet=BOB,
        side="BUY",
        token_id=TOKEN,
        price=Decimal(0),
        size=Decimal(0),
        usdc_size=Decimal(0),
        timestamp=now,
        is_taker=True,
    )
    assert not is_decision_row(row)


async def test_a_sale_of_no_shares_is_no_leaving(pool: asyncpg.Pool) -> None:
    """The executor's ``leader_exited`` and exits owed read a leader's SELL after its buy as its
    leaving (``market_queries.left_since``): a sale of no shares is none. Before, the stored
    sale of 0 shares (log index 0) was read as ALICE leaving the token, beside her sale of
    0.000003 shares for nothing (log index 2), which does leave it."""
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(_logs(), 137, c.MAINNET), chain_id=137)
    left = left_since(
        "t", "$1", "$2::numeric", "NULL", chain="137", ts="'epoch'", block="0", log_index="-1"
    )
    rows = await pool.fetch(
        f"SELECT t.log_index FROM orderflow_trades t WHERE {left} ORDER BY t.log_index",
        ALICE,
        TOKEN,
    )
    assert [r["log_index"] for r in rows] == [2]
