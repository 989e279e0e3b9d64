"""A blocks file holding a block twice in one batch — pages appended, two exports concatenated
(the same header), or a second row naming another hash (a fork's block, a damaged row) — stores
the block once, the first row's; a repeat naming another hash is a dead letter naming both.
Before, PostgreSQL refused the batch (``CardinalityViolationError: ON CONFLICT DO UPDATE command
cannot affect row a second time``) and the import ended naming no file, nothing of it stored."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


@pytest.mark.parametrize("other_hash", [False, True], ids=["same", "other"])
async def test_a_block_repeated_in_a_blocks_file_is_stored_once(
    pool: asyncpg.Pool, tmp_path: Path, other_hash: bool
) -> None:
    blocks = d.blocks_of(sim_logs("v2", seed=7))
    first = blocks[0]
    repeat = {**first, "block_hash": "0x" + "ab" * 32} if other_hash else first
    path = d.write_jsonl(tmp_path / "blocks.jsonl", [*blocks, repeat])
    report = await import_file(pool, path, chain_id=137)
    assert (report.blocks, report.dead_letters) == (len(blocks), int(other_hash))
    stored = await pool.fetchval(
        "SELECT block_hash FROM orderflow_blocks WHERE block_number = $1", first["block_number"]
    )
    assert stored == first["block_hash"]
    if other_hash:
        reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
        line = len(blocks) + 1
        assert reason == (
            f"blocks.jsonl line {line}: block {first['block_number']}: the file says "
            f"0x{'ab' * 32}, an earlier row of it {first['block_hash']}; not stored"
        )


@pytest.mark.parametrize("seconds", [-5, "-5"])
async def test_a_block_time_before_1970_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path, seconds: object
) -> None:
    """Before: an integer ``-5`` was stored as the block's time, 1969-12-31 23:59:55 (the text
    ``-5`` was refused), and every timed fill of that block then a dead letter, its time not the
    block's; a fill's own time before 1970 is refused by the decoder."""
    blocks = d.blocks_of(sim_logs("v2", seed=7))
    path = d.write_jsonl(tmp_path / "blocks.jsonl", [{**blocks[0], "timestamp": seconds}])
    report = await import_file(pool, path, chain_id=137)
    assert (report.blocks, report.dead_letters) == (0, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("blocks.jsonl line 1: timestamp ")
