"""The logs the store tests store (tests/chain/test_store*.py, and others): a market prepared,
a matched trade of a taker and two makers, and the stored trades read back."""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.contracts import ExchangeVersion
from orderflow.chain.encode import encode_condition_preparation
from orderflow.chain.encode_trades import encode_fill, encode_match
from tests.chain.factory import addr, at, h32
from tests.chain.test_contracts_tokens import BTC_UP_DOWN, BTC_YES, VECTORS

ALICE, BOB, CAROL, DAVE = addr(0xA11CE), addr(0xB0B), addr(0xCA501), addr(0xDA7E)
NEG_YES, NEG_NO = VECTORS[2][2], VECTORS[2][3]


def prepare(block: int, condition: str = BTC_UP_DOWN, *, neg: bool = False) -> dict[str, Any]:
    return encode_condition_preparation(
        at=at(block, 0, tx=block * 100),
        condition_id=condition,
        oracle=c.NEG_RISK_ADAPTER if neg else addr(0x0AC1E),
        question_id=h32(0x9),
        outcome_slot_count=2,
    )


def match_tx(
    block: int, tx: int, *, first_log: int = 0, version: ExchangeVersion = "V2"
) -> list[dict[str, Any]]:
    """A taker (CAROL) buys 10 YES at 0.60 from two makers: ALICE sells 4, BOB sells 6.

    Logs: ALICE's fill, BOB's fill, CAROL's aggregate (taker = exchange), OrdersMatched.
    """
    ex = {"V1": c.V1_CTF_EXCHANGE, "V2": c.V2_CTF_EXCHANGE, "V3": c.V3_EXCHANGE}[version]
    i = first_log
    return [
        encode_fill(
            version,
            at=at(block, i, tx),
            order_hash=h32(0xA0 + tx),
            maker=ALICE,
            taker=CAROL,
            side="SELL",
            shares=4_000_000,
            collateral=2_400_000,
            token_id=BTC_YES,
            exchange=ex,
        ),
        encode_fill(
            version,
            at=at(block, i + 1, tx),
            order_hash=h32(0xB0 + tx),
            maker=BOB,
            taker=CAROL,
            side="SELL",
            shares=6_000_000,
            collateral=3_600_000,
            token_id=BTC_YES,
            exchange=ex,
        ),
        encode_fill(
            version,
            at=at(block, i + 2, tx),
            order_hash=h32(0xC0 + tx),
            maker=CAROL,
            taker=ex,
            side="BUY",
            shares=10_000_000,
            collateral=6_000_000,
            fee=12_000,
            token_id=BTC_YES,
            exchange=ex,
        ),
        encode_match(
            version,
            at=at(block, i + 3, tx),
            taker_order_hash=h32(0xC0 + tx),
            taker_order_maker=CAROL,
            side="BUY",
            shares=10_000_000,
            collateral=6_000_000,
            token_id=BTC_YES,
            exchange=ex,
        ),
    ]


async def trades(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        "SELECT wallet_address, side, size, usdc_size, price, fee, fee_asset, market_id, "
        "outcome_index, is_taker_aggregate, match_log_index, log_index, block_number, timestamp,"
        " exchange_version FROM orderflow_trades ORDER BY block_number, log_index"
    )
    return rows
