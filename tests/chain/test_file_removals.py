"""A file's ``removed: true`` log retracts what the file (or anything before it) stored.

A file dumped from a node's ``logs`` subscription across a reorg holds a block's logs, then the
same logs with ``removed: true``, then the transaction re-mined in another block. The import
must end with the ledger a canonical file gives: the retracted block's rows gone, subtracted
from the per-(wallet, token) sums and wallet counters as a reorg rollback subtracts them, in
bulk mode and not, whichever batch or file the removal arrives in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain import rereads
from orderflow.chain.block_times import BlockHeader
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import encode_condition_resolution
from orderflow.chain.ingest import ingest_file, ingest_logs
from orderflow.chain.store import store_batch
from tests.chain.factory import T0, addr, at, block_hash, h32
from tests.chain.match_batches import ALICE, match_tx, prepare
from tests.chain.test_bulk_sums import state
from tests.chain.test_contracts_tokens import BTC_UP_DOWN
from tests.reputation.test_incremental_sums import assert_sums_match

_CHANGED_KEYS = (
    "SELECT DISTINCT wallet_address, token_id FROM orderflow_position_sums_changes ORDER BY 1, 2"
)


def removed(logs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a node's subscription sends for these logs when a reorg retracts their block."""
    return [{**log, "removed": True} for log in logs]


def moved(logs: Sequence[dict[str, Any]], block: int, *, shift: int = 0) -> list[dict[str, Any]]:
    """The same logs re-mined in ``block`` (its own hash and time), log indexes + ``shift``."""
    return [
        {
            **log,
            "blockNumber": hex(block),
            "blockHash": block_hash(block),
            "blockTimestamp": hex(T0 + 2 * block),
            "logIndex": hex(int(log["logIndex"], 16) + shift),
        }
        for log in logs
    ]


def write(path: Path, logs: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    return path


async def positions(pool: asyncpg.Pool) -> list[tuple[str, int, int]]:
    """(table, block, log index) of every stored fill and match."""
    rows = await pool.fetch(
        "SELECT 'trade' AS t, block_number, log_index FROM orderflow_trades"
        " UNION ALL SELECT 'match', block_number, log_index FROM orderflow_matches"
        " ORDER BY 1, 2, 3"
    )
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize(
    ("batch_size", "workers", "bulk"),
    [(1000, 0, False), (4, 0, True), (1000, 1, True), (4, 1, False)],
    ids=["one-batch", "removal-in-a-later-batch-bulk", "one-batch-process-bulk", "later-process"],
)
async def test_a_removed_block_is_retracted_and_its_reinclusion_counted_once(
    pool: asyncpg.Pool,
    other_pool: asyncpg.Pool,
    tmp_path: Path,
    batch_size: int,
    workers: int,
    bulk: bool,
) -> None:
    """The reorged transaction is re-included at another block with other log indexes: one
    fill per log, as a file of the canonical chain gives, with the same sums and counters."""
    orphan = match_tx(10, 7)
    canonical = [prepare(1), *moved(orphan, 12, shift=3)]
    path = write(tmp_path / "reorg.jsonl", [prepare(1), *orphan, *removed(orphan), *canonical[1:]])
    options: dict[str, Any] = {"batch_size": batch_size, "workers": workers, "bulk": bulk}
    report = await ingest_file(pool, path, chain_id=137, **options)
    await ingest_file(other_pool, write(tmp_path / "canonical.jsonl", canonical), chain_id=137)

    assert report.stored.removed == 4
    assert await positions(pool) == await positions(other_pool)
    fills = [("trade", 12, 3), ("trade", 12, 4), ("trade", 12, 5)]
    assert await positions(pool) == [("match", 12, 6), *fills]
    assert await state(pool) == await state(other_pool)
    assert await pool.fetch(_CHANGED_KEYS) == await other_pool.fetch(_CHANGED_KEYS)
    await assert_sums_match(pool)


async def test_one_removed_log_retracts_its_whole_block(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """A node that retracts one log of a block has retracted the block (the live listener rolls
    the block back too): its other logs go with it, other blocks stay."""
    orphan, kept = match_tx(10, 7), match_tx(11, 8)
    path = write(tmp_path / "one.jsonl", [*orphan, *kept, *removed(orphan[:1])])
    report = await ingest_file(pool, path, chain_id=137)
    assert report.stored.removed == 1
    assert {b for _, b, _ in await positions(pool)} == {11}
    await assert_sums_match(pool)


async def test_removals_in_a_later_file_retract_an_earlier_import(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    orphan = match_tx(10, 7)
    await ingest_file(pool, write(tmp_path / "a.jsonl", orphan), chain_id=137, bulk=True)
    await ingest_file(pool, write(tmp_path / "b.jsonl", removed(orphan)), chain_id=137)
    assert await positions(pool) == []
    await ingest_file(pool, write(tmp_path / "c.jsonl", moved(orphan, 13)), chain_id=137)
    assert {b for _, b, _ in await positions(pool)} == {13}
    await assert_sums_match(pool)


async def test_a_removal_of_a_log_never_stored_changes_nothing(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    kept = match_tx(11, 8)
    await ingest_file(pool, write(tmp_path / "a.jsonl", kept), chain_id=137)
    before = await positions(pool)
    caplog.set_level(logging.INFO)
    report = await ingest_file(
        pool, write(tmp_path / "b.jsonl", removed(match_tx(10, 7))), chain_id=137
    )
    assert (report.stored.removed, report.stored.dead_letters) == (4, 0)
    assert await positions(pool) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_removal_naming_another_block_hash_is_ignored_with_a_warning(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The node retracted another block at that height than the one we hold: ours stays."""
    held = match_tx(10, 7)
    other_fork = [{**log, "blockHash": block_hash(10, fork=1)} for log in held]
    await ingest_file(pool, write(tmp_path / "a.jsonl", held), chain_id=137)
    caplog.set_level(logging.WARNING)
    await ingest_file(pool, write(tmp_path / "b.jsonl", removed(other_fork)), chain_id=137)
    assert len(await positions(pool)) == 4
    warned = [r for r in caplog.records if "removed" in r.getMessage()]
    assert warned and warned[0].levelno == logging.WARNING
    await assert_sums_match(pool)


async def test_a_removal_before_its_log_in_one_batch_retracts_nothing_after_it(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Order in the file is what counts, inside a batch too: a removal retracts what came
    before it, never a later line (here the block's logs after their own retraction)."""
    orphan = match_tx(10, 7)
    path = write(tmp_path / "order.jsonl", [*removed(orphan), *orphan])
    await ingest_file(pool, path, chain_id=137)
    assert len(await positions(pool)) == 4
    # a log, its removal, the log again (a node that retracted and re-sent the same block)
    again = write(tmp_path / "again.jsonl", [*match_tx(20, 9), *removed(match_tx(20, 9))])
    await ingest_file(pool, again, chain_id=137)
    assert {b for _, b, _ in await positions(pool)} == {10}
    back = write(tmp_path / "back.jsonl", [*removed(orphan), *orphan, *removed(orphan), *orphan])
    await ingest_file(pool, back, chain_id=137)
    assert {b for _, b, _ in await positions(pool)} == {10}
    assert len(await positions(pool)) == 4
    await assert_sums_match(pool)


@pytest.mark.parametrize("batch_size", [1000, 1])
async def test_a_removed_condition_and_resolution_are_retracted_and_stored_again(
    pool: asyncpg.Pool, tmp_path: Path, batch_size: int
) -> None:
    """As the live listener's rollback does: the condition and its tokens, and the resolution,
    of the retracted block are deleted, so their re-inclusion at another block is stored."""
    resolution = encode_condition_resolution(
        at=at(5, 1, tx=500),  # prepare(5)'s transaction
        condition_id=BTC_UP_DOWN,
        oracle=addr(0x0AC1E),
        question_id=h32(0x9),
        payout_numerators=[1, 0],
    )
    orphan = [prepare(5), resolution]
    path = write(tmp_path / "ctf.jsonl", [*orphan, *removed(orphan), *moved(orphan, 7)])
    await ingest_file(pool, path, chain_id=137, batch_size=batch_size)
    assert await pool.fetchval("SELECT block_number FROM orderflow_conditions") == 7
    assert await pool.fetchval("SELECT block_number FROM orderflow_market_outcomes") == 7
    assert await pool.fetchval("SELECT count(*) FROM orderflow_tokens") == 2


async def test_a_retraction_queues_its_block_for_a_reread_and_moves_no_checkpoint(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A retraction takes its block's rows and recorded header and queues that block for the
    listener to read again; no checkpoint moves. On main every checkpoint at or past the block
    went back below it: a listener a million blocks on (here: one that passed block 10 long
    ago) was sent back to block 9, to read every block since again."""
    orphan = match_tx(10, 7)
    header = BlockHeader(10, block_hash(10), block_hash(9), _time(10))
    async with pool.acquire() as conn:
        await store_batch(
            conn,
            decode_batch(orphan, 137),
            chain_id=137,
            blocks=[BlockHeader(9, block_hash(9), block_hash(8), _time(9)), header],
            checkpoint=Checkpoint("listener", 1_000_000, block_hash(1_000_000)),
        )
        await store_batch(
            conn, decode_batch([], 137), chain_id=137, checkpoint=Checkpoint("low", 5)
        )
    await ingest_file(pool, write(tmp_path / "r.jsonl", removed(orphan[:1])), chain_id=137)
    async with pool.acquire() as conn:
        assert await get_checkpoint(conn, 137, "listener") == Checkpoint(
            "listener", 1_000_000, block_hash(1_000_000)
        )
        assert await get_checkpoint(conn, 137, "low") == Checkpoint("low", 5)
        assert [n for n, _ in await rereads.pending(conn, 137)] == [10]
    queued = await pool.fetchrow("SELECT block_hash, reason FROM orderflow_reread_blocks")
    assert tuple(queued) == (block_hash(10), "removed: true")
    assert await pool.fetchval("SELECT max(block_number) FROM orderflow_blocks") == 9
    assert await positions(pool) == []
    rows = await pool.fetchrow(
        "SELECT total_trades FROM orderflow_wallet_stats WHERE wallet_address = $1", ALICE
    )
    assert rows[0] == 0


async def test_a_retraction_of_nothing_queues_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    """A removal of a block we hold nothing of (or hold under another hash) reads nothing again."""
    await ingest_file(pool, write(tmp_path / "r.jsonl", removed(match_tx(10, 7))), chain_id=137)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_reread_blocks") == 0


def _time(block: int) -> datetime:
    return datetime.fromtimestamp(T0 + 2 * block, UTC)


async def test_logs_in_memory_are_retracted_the_same_way(pool: asyncpg.Pool) -> None:
    """``ingest_logs`` (the same pipeline for logs already in memory) retracts as a file does."""
    orphan = match_tx(10, 7)
    report = await ingest_logs(
        pool, [*orphan, *removed(orphan), *moved(orphan, 12)], chain_id=137, batch_size=2
    )
    assert {b for _, b, _ in await positions(pool)} == {12}
    assert len(await positions(pool)) == 4
    assert (report.stored.removed, report.stored.retracted) == (4, 3)
    await assert_sums_match(pool)
