"""Logs that contradict what is stored: never dropped silently, never stored beside it.

A log's identity is (chain, block, log index). A second log under an identity already held, but
with other content (amounts, wallets, order, block hash), cannot both be right: the first one
stays and the second becomes a dead letter naming the difference, instead of vanishing in
``ON CONFLICT DO NOTHING``. A fill or match whose block hash is not the hash recorded for its
block in ``orderflow_blocks`` is a log of another fork: a dead letter, not a row beside the
canonical ones. Everything else in the batch is stored exactly once, and a replay adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.decode import decode_batch
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.ingest import ingest_file
from orderflow.chain.store import BlockHeader, store_batch
from orderflow.chain.store_guard import store_batch_isolating
from tests.chain.factory import T0, addr, at, block_hash, h32
from tests.chain.hostile import TOKEN, fill

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"


def _write(path: Path, logs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(raw) + "\n" for raw in logs))
    return path


def _other_amount(raw: dict[str, Any]) -> dict[str, Any]:
    return encode_fill(
        "V2",
        at=at(10, 2, 2),
        order_hash=h32(1000 + 100 * 2 + 2),
        maker=addr(0xA1),
        taker=addr(0xB0),
        side="BUY",
        token_id=TOKEN,
        shares=20_000_000,
        collateral=5_000_000,
    )


def _other_maker(raw: dict[str, Any]) -> dict[str, Any]:
    topics = list(raw["topics"])
    topics[2] = "0x" + "0" * 24 + "ee" * 20
    return {**raw, "topics": topics}


def _other_block_hash(raw: dict[str, Any]) -> dict[str, Any]:
    return {**raw, "blockHash": block_hash(10, fork=1)}


CHANGES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "amount": _other_amount,
    "maker": _other_maker,
    "block hash": _other_block_hash,
}


async def _trades(pool: asyncpg.Pool) -> list[tuple[int, int, str, str]]:
    rows = await pool.fetch(
        "SELECT block_number, log_index, block_hash, size::text FROM orderflow_trades "
        "ORDER BY block_number, log_index"
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
async def test_a_replayed_log_with_other_content_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, change: str
) -> None:
    first = _write(tmp_path / "a.jsonl", [fill(10, 1, 1), fill(10, 2, 2), fill(10, 3, 3)])
    changed = CHANGES[change](fill(10, 2, 2))
    second = _write(tmp_path / "b.jsonl", [changed, fill(10, 4, 4)])
    await ingest_file(pool, first, chain_id=137)
    before = await _trades(pool)
    report = await ingest_file(pool, second, chain_id=137)
    assert (report.stored.trades, report.stored.dead_letters) == (1, 1)
    after = await _trades(pool)
    assert after[:3] == before and len(after) == 4  # the first version of (10, 2) stays
    letter = await pool.fetchrow(
        "SELECT reason, block_number, log_index, tx_hash FROM orderflow_dead_letters"
    )
    assert (letter["block_number"], letter["log_index"]) == (10, 2)
    assert "already held by a log with other content" in letter["reason"], letter["reason"]
    again = await ingest_file(pool, second, chain_id=137)
    assert again.stored.trades == 0
    assert await _trades(pool) == after
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1


async def test_two_versions_of_a_log_in_one_batch(pool: asyncpg.Pool, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "f.jsonl",
        [fill(10, 1, 1), fill(10, 2, 2), _other_amount(fill(10, 2, 2)), fill(10, 3, 3)],
    )
    report = await ingest_file(pool, path, chain_id=137)
    assert (report.stored.trades, report.stored.dead_letters) == (3, 1)
    assert [t[3] for t in await _trades(pool)] == ["10.000000"] * 3


async def test_the_rpc_path_dead_letters_a_changed_replay(pool: asyncpg.Pool) -> None:
    """store_batch_isolating with decoded logs (live flush, backfill): the same check."""
    async with pool.acquire() as conn:
        await store_batch_isolating(
            conn, decode_batch([fill(10, 1, 1), fill(10, 2, 2)], 137), chain_id=137
        )
        stats = await store_batch_isolating(
            conn,
            decode_batch([_other_amount(fill(10, 2, 2)), fill(10, 3, 3)], 137),
            chain_id=137,
        )
    assert (stats.trades, stats.dead_letters) == (1, 1)


def _match(block: int, log_index: int, tx: int, shares: int) -> dict[str, Any]:
    return encode_match(
        "V2",
        at=at(block, log_index, tx),
        taker_order_hash=h32(77),
        taker_order_maker=addr(0xC1),
        side="BUY",
        token_id=TOKEN,
        shares=shares,
        collateral=5_000_000,
    )


async def test_a_replayed_match_with_other_content_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await ingest_file(
        pool, _write(tmp_path / "a.jsonl", [_match(10, 5, 5, 10_000_000)]), chain_id=137
    )
    other = {**_match(10, 5, 5, 10_000_000), "blockHash": block_hash(10, fork=1)}
    report = await ingest_file(pool, _write(tmp_path / "b.jsonl", [other]), chain_id=137)
    assert (report.stored.matches, report.stored.dead_letters) == (0, 1)
    assert await pool.fetchval("SELECT block_hash FROM orderflow_matches") == block_hash(10)


async def test_replays_of_real_transactions_raise_no_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Taker fills whose amounts the batch corrects, refunds, links: identical replays, with
    other batch bounds too, are not mistaken for other content."""
    first = await ingest_file(pool, SAMPLE, chain_id=137)
    letters = await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters")
    assert letters == first.stored.dead_letters
    for batch_size in (1, 3, 5000):
        again = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=batch_size)
        assert again.stored.trades == 0
        assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == letters


async def _record_block(pool: asyncpg.Pool, number: int, hash_: str) -> None:
    async with pool.acquire() as conn:
        await store_batch(
            conn,
            decode_batch([], 137),
            chain_id=137,
            blocks=[BlockHeader(number, hash_, None, datetime.fromtimestamp(T0 + 2 * number, UTC))],
        )


@pytest.mark.parametrize("workers", [0, 1])
async def test_a_log_of_another_fork_than_the_recorded_block_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, workers: int
) -> None:
    await _record_block(pool, 10, block_hash(10))
    orphan_fill = {**fill(10, 2, 2), "blockHash": block_hash(10, fork=1)}
    orphan_match = {**_match(10, 5, 5, 10_000_000), "blockHash": block_hash(10, fork=1)}
    path = _write(
        tmp_path / "f.jsonl",
        [fill(10, 1, 1), orphan_fill, fill(10, 3, 3), orphan_match, fill(11, 1, 4)],
    )
    report = await ingest_file(pool, path, chain_id=137, workers=workers)
    assert (report.stored.trades, report.stored.matches) == (3, 0)
    assert report.stored.dead_letters == 2
    assert [(t[0], t[1]) for t in await _trades(pool)] == [(10, 1), (10, 3), (11, 1)]
    reasons = [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]
    assert all("recorded for block 10" in r for r in reasons), reasons
    again = await ingest_file(pool, path, chain_id=137, workers=workers)
    assert again.stored.trades == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 2
