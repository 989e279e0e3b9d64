"""The hand-over never moves a checkpoint the listener owns.

A live listener's checkpoint is where it has read every block up to. Importing a file whose
last block is above it (the shipped sample's illustrative blocks, a dump of later history) must
not move it there: the listener would never read the blocks in between. The hand-over moves the
listener's checkpoint only when the listener has none, or when the last hand-over set it and the
listener has not moved it since (files imported in sequence, before the listener first runs).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint
from orderflow.chain.events import DecodedBatch
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from orderflow.history import HISTORY_STREAM, import_file
from orderflow.history.hand_over import hand_over

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "polymarket-logs.jsonl"
SAMPLE_TOP = 0x5404CA0  # the sample's highest (illustrative) block


async def _set(pool: asyncpg.Pool, stream: str, block: int) -> None:
    async with pool.acquire() as conn:
        await store_batch(
            conn, DecodedBatch(), chain_id=137, checkpoint=Checkpoint(stream, block, None)
        )


async def _handed_over(pool: asyncpg.Pool, block: int) -> None:
    """Both checkpoints at ``block``: a file ending there was handed over."""
    async with pool.acquire() as conn:
        assert await hand_over(conn, 137, (block, "0x" + "ab" * 32), listener=True) is None


async def _at(pool: asyncpg.Pool, stream: str) -> int | None:
    async with pool.acquire() as conn:
        cp = await get_checkpoint(conn, 137, stream)
    return None if cp is None else cp.block_number


async def test_the_sample_does_not_move_a_live_listeners_checkpoint(pool: asyncpg.Pool) -> None:
    await _set(pool, STREAM, 1_000)  # the listener has read every block up to 1,000
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert report.stored.trades > 0
    assert await _at(pool, STREAM) == 1_000  # blocks 1,001 on are still the listener's to read
    assert await _at(pool, HISTORY_STREAM) == SAMPLE_TOP
    assert not report.handed_over
    assert "the listener's checkpoint stays at block 1,000" in report.summary()


async def test_a_fresh_database_is_handed_over(pool: asyncpg.Pool) -> None:
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert report.handed_over
    assert await _at(pool, STREAM) == SAMPLE_TOP


async def test_files_in_sequence_are_handed_over_each(pool: asyncpg.Pool) -> None:
    await _handed_over(pool, 500)  # the last hand-over: both at 500, the listener not run since
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert report.handed_over
    assert await _at(pool, STREAM) == SAMPLE_TOP


async def test_a_listener_that_ran_after_a_hand_over_keeps_its_checkpoint(
    pool: asyncpg.Pool,
) -> None:
    await _set(pool, HISTORY_STREAM, 500)
    await _set(pool, STREAM, 700)  # the listener read 501-700 after the hand-over
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert not report.handed_over
    assert await _at(pool, STREAM) == 700


async def test_a_listener_that_reached_the_last_hand_over_s_block_keeps_its_checkpoint(
    pool: asyncpg.Pool,
) -> None:
    # A file handed over block 500 (both checkpoints written by that hand-over); the listener
    # then read 501-700, and a second file ending at block 700 was imported: the listener kept
    # its checkpoint, and the history stream is at 700 too. The two are the same block, but the
    # listener moved its own there: a third file (the sample, far above) must not move it.
    await _handed_over(pool, 500)
    await _set(pool, STREAM, 700)  # the listener read 501-700
    await _set(pool, HISTORY_STREAM, 700)  # a file ending at 700, the listener's kept
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert not report.handed_over
    assert await _at(pool, STREAM) == 700  # 701 on are the listener's to read


async def test_a_listener_rewound_with_the_history_stream_by_a_reorg_keeps_its_checkpoint(
    pool: asyncpg.Pool,
) -> None:
    # The listener read up to 700; a file of later history ended at 900 (the listener's kept).
    # A reorg at 650 rewinds every stream at or past it to 649, both in one statement: the same
    # block, written at the same time. The listener still owns its checkpoint (it has read up
    # to 649 itself): the next file must not move it past the blocks it has to read again.
    await _set(pool, STREAM, 700)
    await _set(pool, HISTORY_STREAM, 900)
    async with pool.acquire() as conn:
        await rollback_from(conn, 137, 650)
    assert await _at(pool, STREAM) == await _at(pool, HISTORY_STREAM) == 649
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert not report.handed_over
    assert await _at(pool, STREAM) == 649  # 650 on are the listener's to read again


async def test_an_older_file_after_a_later_one_says_where_the_listener_continues(
    pool: asyncpg.Pool,
) -> None:
    # Files imported out of order: the later one handed over its last block; the older one
    # cannot move the checkpoint back (checkpoints only move forward), so the listener goes on
    # from the later file's block, and the summary must not say it continues after this file's.
    await _handed_over(pool, SAMPLE_TOP + 1_000)
    report = await import_file(pool, SAMPLE, chain_id=137)
    assert await _at(pool, STREAM) == SAMPLE_TOP + 1_000
    assert not report.handed_over
    summary = report.summary()
    assert "(the listener continues from the next)" not in summary
    assert f"the listener's checkpoint stays at block {SAMPLE_TOP + 1_000:,}" in summary
    assert "an earlier import's" in summary
