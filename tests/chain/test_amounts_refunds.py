"""Fees as paid, from events exactly as the contracts emit them: FeeModule refunds.

FeeRefunded (2025 layout: by order hash; 2023 layout: by wallet and asset) lowers the refunded
fill's fee to what was paid, once, whatever the batch boundaries. Amounts as executed:
test_amounts.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    encode_fee_refunded,
    encode_fee_refunded_2023,
)
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from tests.chain.factory import at, h32
from tests.chain.sample_logs import BTC_YES
from tests.chain.test_amounts import (
    MAKER2,
    TAKER,
    over_specified_v1_buy,
    v1_maker_sell,
    v1_taker_buy,
)


def refunds(block: int = 10, tx: int = 1) -> list[dict[str, Any]]:
    return [
        # 2025 module: the taker's 0.4-share fee, 0.3 refunded (by order hash).
        encode_fee_refunded(
            at=at(block, 3, tx),
            order_hash=h32(0xB),
            to=TAKER,
            token_id=BTC_YES,
            refund=300_000,
            fee_charged=400_000,
        ),
    ]


def maker_sell_with_fee_and_2023_refund(block: int = 11, tx: int = 2) -> list[dict[str, Any]]:
    """2023 module: a maker SELL charged 0.084 USDC.e, all of it refunded (by wallet/asset)."""
    refund = encode_fee_refunded_2023(
        at=at(block, 3, tx), token=c.USDC_E, to=MAKER2, token_id=0, amount=84_000
    )
    return [
        v1_maker_sell(block, tx, 0, 0xC, MAKER2, 20_000_000, 8_400_000, fee=84_000),
        *v1_taker_buy(block, tx, 1, 0xD, 8_400_000, 20_000_000),
        refund,
    ]


async def fees(pool: asyncpg.Pool) -> dict[str, tuple[Decimal, Decimal]]:
    rows = await pool.fetch("SELECT order_hash, fee, fee_refunded FROM orderflow_trades")
    return {r["order_hash"]: (r["fee"], r["fee_refunded"]) for r in rows}


async def test_fee_refunds_lower_the_fee_to_what_was_paid(pool: asyncpg.Pool) -> None:
    logs = over_specified_v1_buy() + refunds() + maker_sell_with_fee_and_2023_refund()
    report = await ingest_logs(pool, logs, chain_id=137)
    assert (report.stored.refunds, report.stored.refunds_applied) == (2, 2)
    assert await fees(pool) == {
        h32(0xA): (Decimal(0), Decimal(0)),
        h32(0xB): (Decimal("0.1"), Decimal("0.3")),
        h32(0xC): (Decimal(0), Decimal("0.084")),
        h32(0xD): (Decimal(0), Decimal(0)),
    }
    links = await pool.fetch(
        "SELECT log_index, trade_log_index, refund, fee_charged FROM orderflow_fee_refunds"
        " ORDER BY block_number"
    )
    assert [tuple(r) for r in links] == [
        (3, 1, Decimal("0.3"), Decimal("0.4")),
        (3, 0, Decimal("0.084"), None),
    ]
    # Replayed: nothing is refunded twice.
    again = await ingest_logs(pool, logs, chain_id=137)
    assert again.stored.refunds == 0
    assert (await fees(pool))[h32(0xB)] == (Decimal("0.1"), Decimal("0.3"))


async def test_a_refund_stored_before_its_fill_is_applied_when_the_fill_arrives(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(refunds(), 137), chain_id=137)
        assert await conn.fetchval("SELECT trade_log_index FROM orderflow_fee_refunds") is None
        await store_batch(conn, decode_batch(over_specified_v1_buy(), 137), chain_id=137)
    assert (await fees(pool))[h32(0xB)] == (Decimal("0.1"), Decimal("0.3"))


async def test_rollback_and_reingest_refund_once(pool: asyncpg.Pool) -> None:
    logs = over_specified_v1_buy() + refunds()
    await ingest_logs(pool, logs, chain_id=137)
    async with pool.acquire() as conn:
        await rollback_from(conn, 137, 10)
        assert await conn.fetchval("SELECT count(*) FROM orderflow_fee_refunds") == 0
    await ingest_logs(pool, logs, chain_id=137)
    assert (await fees(pool))[h32(0xB)] == (Decimal("0.1"), Decimal("0.3"))


def test_fee_refunded_decodes_both_layouts() -> None:
    batch = decode_batch(refunds() + maker_sell_with_fee_and_2023_refund()[3:], 137)
    assert not batch.dead_letters
    new, old = batch.refunds
    assert (new.order_hash, new.wallet, new.token_id, new.refund, new.fee_charged) == (
        h32(0xB),
        TAKER,
        BTC_YES,
        300_000,
        400_000,
    )
    assert (old.order_hash, old.wallet, old.token_id, old.refund, old.fee_charged) == (
        None,
        MAKER2,
        0,
        84_000,
        None,
    )
