"""An imported FeeModule refund that differs from the stored one is a dead letter, never dropped
without a word.

A V1 transaction (a maker SELL charged 0.084 USDC.e, all of it refunded by the 2023 FeeModule)
is stored, its refund applied (fee 0, ``fee_refunded`` 0.084). A file then holds the same
refund (same transaction and log index) with another amount (0.05) or another wallet, or at
another block: an import is not the chain, so the stored refund stays (the node's log replaces
a stored refund it contradicts: ``tests/history/test_refund_replaced.py``), and the file's is
not stored — as a file's fill colliding with a stored one (``store_refused.collisions``), it is
a dead letter naming both. Before (6 Dec 2026) ``ON CONFLICT DO NOTHING`` dropped it silently:
no dead letter, no count, a file that disagrees with the ledger said nothing.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.encode import encode_fee_refunded_2023
from orderflow.chain.ingest import ingest_logs
from tests.chain.factory import addr, at
from tests.chain.test_amounts import MAKER2
from tests.chain.test_amounts_refunds import fees, maker_sell_with_fee_and_2023_refund

BLOCK = 11


def _file_refund(kind: str) -> dict[str, Any]:
    """The transaction's refund as the file has it."""
    amount, to, block = {
        "amount": (50_000, MAKER2, BLOCK),
        "wallet": (84_000, addr(0xEE), BLOCK),
        "block": (84_000, MAKER2, BLOCK + 4),
    }[kind]
    raw = encode_fee_refunded_2023(
        at=at(BLOCK, 3, 2), token=c.USDC_E, to=to, token_id=0, amount=amount
    )
    return {**raw, "blockNumber": hex(block)}


async def _refunds(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, wallet_address, refund, trade_log_index"
        " FROM orderflow_fee_refunds ORDER BY tx_hash, log_index"
    )
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("kind", ["amount", "wallet", "block"])
async def test_an_imported_refund_that_differs_is_a_dead_letter(
    pool: asyncpg.Pool, kind: str
) -> None:
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    await ingest_logs(pool, chain, chain_id=137)
    stored, charged = await _refunds(pool), await fees(pool)

    report = await ingest_logs(pool, [_file_refund(kind)], chain_id=137)

    assert await _refunds(pool) == stored  # the first stored stays, as for a file's fills
    assert await fees(pool) == charged
    letters = await pool.fetch("SELECT tx_hash, log_index, reason, raw FROM orderflow_dead_letters")
    assert [(r["tx_hash"], r["log_index"]) for r in letters] == [(stored[0][0], 3)], (
        f"the file's refund ({kind} differs from the stored one) left "
        f"{len(letters)} dead letters, stored {report.stored.refunds} refunds"
    )
    reason = letters[0]["reason"]
    assert reason.startswith(f"FeeRefunded at block {BLOCK + 4 if kind == 'block' else BLOCK}")
    assert "not stored" in reason and "already held by a refund with other content" in reason
    assert report.stored.dead_letters == 1


async def test_an_identical_replay_of_a_refund_is_no_dead_letter(pool: asyncpg.Pool) -> None:
    """Control (passes before the fix too): the same file twice stores nothing, says nothing."""
    chain = maker_sell_with_fee_and_2023_refund(block=BLOCK)
    await ingest_logs(pool, chain, chain_id=137)
    report = await ingest_logs(pool, chain, chain_id=137)
    assert report.stored.refunds == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
