"""Blocks queued for a re-read (migration 047) are visible while no listener reads them.

A file's retraction queues its block for ``orderflow listen`` to read again; until a listener
runs, the chain's rows of that block are missing. The import that queued it says so in its
summary, and every reputation run warns (its scores read those blocks' trades), each with the
blocks and the oldest one's age. Before 4 Dec 2026 nothing showed them but the table.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import rereads
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_file
from orderflow.chain.store import store_batch
from orderflow.reputation.run import run_reputation
from tests.chain.factory import block_hash
from tests.chain.match_batches import match_tx
from tests.chain.test_file_removals import removed, write


async def test_the_import_that_queued_a_reread_says_so(pool: asyncpg.Pool, tmp_path: Path) -> None:
    orphan = match_tx(10, 7)
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(orphan, 137), chain_id=137)
    report = await ingest_file(pool, write(tmp_path / "r.jsonl", removed(orphan[:1])), chain_id=137)
    assert "1 block (10) awaits a re-read by `orderflow listen`, queued" in report.summary()


async def test_a_reputation_run_warns_of_pending_rereads(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    async with pool.acquire() as conn:
        await rereads.queue(conn, 137, 12, block_hash(12), "removed: true")
        await rereads.queue(conn, 137, 10, block_hash(10), "removed: true")
    await run_reputation(pool)
    assert "2 blocks (10-12) await a re-read by `orderflow listen`, queued" in caplog.text
    assert "the chain's trades of those blocks are missing until it runs" in caplog.text


async def test_nothing_pending_says_nothing(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    await run_reputation(pool)
    assert "re-read" not in caplog.text
    async with pool.acquire() as conn:
        assert await rereads.describe(conn) is None
