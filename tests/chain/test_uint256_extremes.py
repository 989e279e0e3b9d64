"""uint256 at its maximum wherever a log carries one, decoded and stored in real PostgreSQL.

A token id is any uint256 (ERC-1155): 2**256 - 1 never registered by a condition is a trade of
an unknown market (market_id NULL until a condition names it), never a refusal. An amount is
bounded by the ledger's columns (2**63 base units): at 2**256 - 1 it is a dead letter naming
the value, and costs nothing else of its batch. Payout numerators are unbounded NUMERIC.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import encode_condition_resolution, encode_fee_refunded
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.store import store_batch
from tests.chain.factory import addr, at, h32

MAX = 2**256 - 1
ALICE, BOB = addr(0xA11CE), addr(0xB0B)


async def test_uint256_maxima_are_stored_or_dead_letters_and_cost_nothing_else(
    pool: asyncpg.Pool,
) -> None:
    ex = c.V2_CTF_EXCHANGE
    logs = [
        # block 2: a fill and its match in a token no condition registered
        encode_fill(
            "V2",
            at=at(2, 0, 7),
            order_hash=h32(0xA0),
            maker=ALICE,
            taker=BOB,
            side="SELL",
            shares=4_000_000,
            collateral=2_400_000,
            token_id=MAX,
            exchange=ex,
        ),
        encode_match(
            "V2",
            at=at(2, 1, 7),
            taker_order_hash=h32(0xB0),
            taker_order_maker=BOB,
            side="BUY",
            shares=4_000_000,
            collateral=2_400_000,
            token_id=MAX,
            exchange=ex,
        ),
        # block 3: amounts at uint256 max
        encode_fill(
            "V2",
            at=at(3, 0, 8),
            order_hash=h32(0xA1),
            maker=ALICE,
            taker=BOB,
            side="BUY",
            shares=MAX,
            collateral=MAX,
            fee=MAX,
            token_id=MAX,
            exchange=ex,
        ),
        encode_match(
            "V2",
            at=at(3, 1, 8),
            taker_order_hash=h32(0xB1),
            taker_order_maker=BOB,
            side="SELL",
            shares=MAX,
            collateral=1,
            token_id=MAX,
            exchange=ex,
        ),
        encode_fee_refunded(
            at=at(3, 2, 8),
            order_hash=h32(0xA1),
            to=ALICE,
            token_id=MAX,
            refund=MAX,
            fee_charged=MAX,
        ),
        # block 4: a resolution whose numerators are uint256 max
        encode_condition_resolution(
            at=at(4, 0, 9),
            condition_id=h32(0xC0),
            oracle=addr(0x0AC1E),
            question_id=h32(0x9),
            payout_numerators=[MAX, MAX],
        ),
    ]
    batch = decode_batch(logs, 137)
    async with pool.acquire() as conn:
        await store_batch(conn, batch, chain_id=137)
        trades = await conn.fetch(
            "SELECT token_id, market_id, size, usdc_size FROM orderflow_trades ORDER BY log_index"
        )
        matches = await conn.fetch("SELECT token_id, market_id FROM orderflow_matches")
        letters = await conn.fetch(
            "SELECT block_number, log_index, reason FROM orderflow_dead_letters"
            " ORDER BY block_number, log_index"
        )
        outcome = await conn.fetchrow(
            "SELECT payout_numerators, payouts, winning_outcome FROM orderflow_market_outcomes"
        )
    assert [(r["token_id"], r["market_id"], r["size"], r["usdc_size"]) for r in trades] == [
        (Decimal(MAX), None, Decimal(4), Decimal("2.4"))
    ]
    assert [(r["token_id"], r["market_id"]) for r in matches] == [(Decimal(MAX), None)]
    assert [(r["block_number"], r["log_index"]) for r in letters] == [(3, 0), (3, 1), (3, 2)]
    assert all("exceeds 2**63 base units" in r["reason"] for r in letters), letters
    assert outcome is not None
    assert outcome["payout_numerators"] == [Decimal(MAX), Decimal(MAX)]
    assert outcome["payouts"] == [Decimal("0.5"), Decimal("0.5")]
    assert outcome["winning_outcome"] is None
