"""A fork's condition or resolution, alone at its height, goes when the node's header of that
height is stored.

A file recorded from a node's ``logs`` subscription across a reorg, from a node that never sends
``removed: true``, holds the ConditionPreparation of the market BTC at block 4 (common to both
forks) and, in block 6 of the orphaned fork (hash F), either its ConditionResolution — YES won —
or the ConditionPreparation of another market (STD) that the canonical chain never prepared.
Block 6 of the orphaned fork holds nothing else of ours (no fill). The canonical chain resolves
BTC in block 8, NO won; its block 6 (hash C) holds no log of ours. The listener then reads blocks
6 to 8 from the node (``store_batch(…, authoritative=True)`` with their headers): what is held at
height 6 under another hash than C is not of the chain (``store_forks.drop_forked``), a
resolution or condition as much as a fill. Before (6 Dec 2026) the fork check looked at fills,
matches and refunds only: the orphaned resolution stayed, BTC resolved YES at block 6 under
the orphaned hash, and the node's resolution (NO) was not stored (a chain resolution is never
replaced by another insert); the orphaned STD condition stayed with its tokens, a market the
chain never had.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import encode_condition_preparation, encode_condition_resolution
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import StoreStats, store_batch
from tests.chain.factory import T0, at, block_hash, h32
from tests.chain.sample_logs import BTC, STD, UMA_ORACLE

FORK = 6


def _prepare(condition: str, block: int, *, fork: int = 0) -> dict[str, Any]:
    return encode_condition_preparation(
        at=at(block, 0, 0xC0 + block, fork=fork),
        condition_id=condition,
        oracle=UMA_ORACLE,
        question_id=h32(condition[-6:]),
        outcome_slot_count=2,
    )


def _resolve(block: int, payouts: list[int], *, fork: int = 0) -> dict[str, Any]:
    return encode_condition_resolution(
        at=at(block, 0, 0xD0 + block, fork=fork),
        condition_id=BTC,
        oracle=UMA_ORACLE,
        question_id=h32(BTC[-6:]),
        payout_numerators=payouts,
    )


def _header(number: int) -> BlockHeader:
    return BlockHeader(
        number,
        block_hash(number, 0),
        block_hash(number - 1, 0),
        datetime.fromtimestamp(T0 + 2 * number, UTC),
    )


async def _node(pool: asyncpg.Pool) -> StoreStats:
    """The listener's read of blocks 4 to 8: BTC's preparation at 4, its resolution at 8 (NO
    won), the headers of 4, 6 (nothing of ours) and 8."""
    logs = [_prepare(BTC, 4), _resolve(8, [0, 1])]
    async with pool.acquire() as conn:
        return await store_batch(
            conn,
            decode_batch(logs, 137),
            chain_id=137,
            blocks=[_header(n) for n in (4, FORK, 8)],
            authoritative=True,
        )


async def _markets(pool: asyncpg.Pool) -> tuple[list[tuple[Any, ...]], ...]:
    conditions = await pool.fetch(
        "SELECT condition_id, block_number, block_hash FROM orderflow_conditions"
        " ORDER BY condition_id"
    )
    tokens = await pool.fetch(
        "SELECT token_id, condition_id, source FROM orderflow_tokens ORDER BY token_id"
    )
    outcomes = await pool.fetch(
        "SELECT market_id, winning_outcome, block_number, block_hash, source"
        " FROM orderflow_market_outcomes ORDER BY market_id"
    )
    return [tuple(r) for r in conditions], [tuple(r) for r in tokens], [tuple(r) for r in outcomes]


@pytest.mark.parametrize("kind", ["ConditionResolution", "ConditionPreparation"])
async def test_a_forks_condition_or_resolution_alone_at_its_height_goes(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, kind: str
) -> None:
    orphaned = (
        _resolve(FORK, [1, 0], fork=1)
        if kind == "ConditionResolution"
        else _prepare(STD, FORK, fork=1)
    )
    await ingest_logs(pool, [_prepare(BTC, 4), orphaned], chain_id=137)
    stats = await _node(pool)

    reference = other_pool  # a database that only ever held the node's blocks
    await _node(reference)
    conditions, tokens, outcomes = await _markets(pool)
    assert (conditions, tokens, outcomes) == await _markets(reference), (
        f"after the node's header of block {FORK} (…{block_hash(FORK)[-10:]}), the orphaned "
        f"block's {kind} (…{block_hash(FORK, 1)[-10:]}) is still held — conditions "
        f"{[(r[0][-6:], r[1], r[2][-10:]) for r in conditions]}, outcomes (market, winner, "
        f"block, hash) {[(r[0][-6:], r[1], r[2], r[3][-10:]) for r in outcomes]}"
    )
    letters = await pool.fetch("SELECT block_number, reason FROM orderflow_dead_letters")
    assert [r["block_number"] for r in letters] == [FORK]
    assert letters[0]["reason"].startswith(f"{kind} stored at block {FORK}"), letters[0]["reason"]
    assert "a fork's left over" in letters[0]["reason"]
    assert stats.outcomes == 1  # the node's resolution, NO won

    again = await _node(pool)  # a replay: nothing left to remove, nothing stored
    assert (again.outcomes, again.conditions) == (0, 0)
    assert await _markets(pool) == await _markets(reference)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1
