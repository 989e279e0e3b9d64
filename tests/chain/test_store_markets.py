"""store_batch against a real PostgreSQL: conditions, resolutions and the token registry (a
market's outcomes, neg-risk and V3 tokens, a market prepared before the first block)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    encode_condition_resolution,
)
from orderflow.chain.encode_trades import encode_fill
from orderflow.chain.store import store_batch
from orderflow.chain.tokens import condition_id, ctf_position_ids
from tests.chain.factory import T0, addr, at, h32
from tests.chain.match_batches import ALICE, BOB, NEG_NO, match_tx, prepare, trades
from tests.chain.test_contracts_tokens import BTC_UP_DOWN, SUBGRAPH_NEG


async def test_resolution_fills_market_outcomes(pool: asyncpg.Pool) -> None:
    res = encode_condition_resolution(
        at=at(9, 2, 90),
        condition_id=BTC_UP_DOWN,
        oracle=addr(0x0AC1E),
        question_id=h32(9),
        payout_numerators=[1, 1],
    )
    async with pool.acquire() as conn:
        stats = await store_batch(conn, decode_batch([res], 137), chain_id=137)
        row = await conn.fetchrow("SELECT * FROM orderflow_market_outcomes")
    assert stats.outcomes == 1
    assert row["payout_numerators"] == [Decimal(1), Decimal(1)]
    assert row["payouts"] == [Decimal("0.5"), Decimal("0.5")]
    assert row["winning_outcome"] is None
    assert row["resolved_at"] == datetime.fromtimestamp(T0 + 18, UTC)


async def test_neg_risk_condition_registers_wrapped_collateral_ids(pool: asyncpg.Pool) -> None:
    fill = encode_fill(
        "V2",
        at=at(4, 1, 4),
        order_hash=h32(1),
        maker=ALICE,
        taker=BOB,
        side="BUY",
        token_id=NEG_NO,
        shares=2_000_000,
        collateral=500_000,
        exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
    )
    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([prepare(3, SUBGRAPH_NEG, neg=True), fill], 137), chain_id=137
        )
        row = await conn.fetchrow("SELECT market_id, outcome_index FROM orderflow_trades")
        neg = await conn.fetchval("SELECT neg_risk FROM orderflow_conditions")
    assert (row["market_id"], row["outcome_index"], neg) == (SUBGRAPH_NEG, 1, True)


async def test_v3_fill_registers_its_structured_token(pool: asyncpg.Pool) -> None:
    v3_yes = 1 << 248 | 0xABCDEF << 120 | 2 << 104 | 7 << 8
    logs = [{**log} for log in match_tx(2, 7, version="V3")]
    logs = [
        encode_fill(
            "V3",
            at=at(2, 0, 7),
            order_hash=h32(1),
            maker=ALICE,
            taker=BOB,
            side="BUY",
            token_id=v3_yes | 1,
            shares=1_000_000,
            collateral=300_000,
        )
    ]
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        row = await conn.fetchrow("SELECT market_id, outcome_index FROM orderflow_trades")
        gen = await conn.fetchval("SELECT generation FROM orderflow_tokens")
    assert row["market_id"] == "0x" + format(v3_yes, "064x")
    assert (row["outcome_index"], gen) == (1, "V3")


async def test_a_resolution_maps_a_market_prepared_before_the_first_block(
    pool: asyncpg.Pool,
) -> None:
    """No ConditionPreparation ever seen: the resolution's fields give the token ids."""
    oracle, question = addr(0x0AC1E), h32(0x77)
    plain = condition_id(oracle, question, 2)
    neg = condition_id(c.NEG_RISK_ADAPTER, question, 2)
    yes = ctf_position_ids(plain, 2, c.USDC_E)[0]
    neg_no = ctf_position_ids(neg, 2, c.NEG_RISK_WRAPPED_COLLATERAL)[1]

    def fill(block: int, token: int, tx: int) -> dict[str, Any]:
        return encode_fill(
            "V2",
            at=at(block, 0, tx),
            order_hash=h32(tx),
            maker=ALICE,
            taker=BOB,
            side="BUY",
            token_id=token,
            shares=1_000_000,
            collateral=600_000,
        )

    def resolve(block: int, condition: str, by: str) -> dict[str, Any]:
        return encode_condition_resolution(
            at=at(block, 0, tx=block * 100),
            condition_id=condition,
            oracle=by,
            question_id=question,
            payout_numerators=[1, 0],
        )

    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([fill(2, yes, 1), fill(3, neg_no, 2)], 137), chain_id=137
        )
        assert {r["market_id"] for r in await trades(conn)} == {None}
        stats = await store_batch(
            conn,
            decode_batch([resolve(9, plain, oracle), resolve(9, neg, c.NEG_RISK_ADAPTER)], 137),
            chain_id=137,
        )
        assert (stats.tokens, stats.backfilled, stats.outcomes) == (4, 2, 2)
        rows = await trades(conn)
        assert [(r["market_id"], r["outcome_index"]) for r in rows] == [(plain, 0), (neg, 1)]
        registry = await conn.fetch(
            "SELECT condition_id, neg_risk, collateral, source FROM orderflow_tokens"
            " WHERE token_id = ANY($1::text[]::numeric[])",
            [str(yes), str(neg_no)],
        )
        assert {tuple(r) for r in registry} == {
            (plain, False, c.USDC_E, "ConditionResolution"),
            (neg, True, c.NEG_RISK_WRAPPED_COLLATERAL, "ConditionResolution"),
        }
        # Again: nothing new, nothing updated (idempotent).
        stats = await store_batch(
            conn, decode_batch([resolve(9, plain, oracle)], 137), chain_id=137
        )
        assert (stats.tokens, stats.backfilled) == (0, 0)
        # A resolution whose id does not follow from its fields maps nothing.
        stats = await store_batch(
            conn, decode_batch([resolve(10, h32(0xBAD), oracle)], 137), chain_id=137
        )
        assert stats.tokens == 0
