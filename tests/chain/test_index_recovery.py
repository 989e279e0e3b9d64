"""A killed bulk import leaves a trades partition without its deferrable indexes; a listener
started afterwards builds them (beside its sessions, CREATE INDEX CONCURRENTLY), but not while a
bulk import runs: every bulk import holds ``index_recovery.BULK_LOCK`` for its whole run, and the
listener then only warns, names the partition and counts it (``orderflow.chain.index_recovery``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.checkpoints import Checkpoint
from orderflow.chain.decode import DecodedBatch, decode_batch
from orderflow.chain.listener import Listener
from orderflow.chain.settings import ListenerSettings
from orderflow.chain.store import store_batch
from tests.chain.test_deferred_indexes import (
    _cli,
    _kill_when,
    indexes,
    sim_file,
    unindexed,
)
from tests.chain.test_ingest_workers import sim_logs

BULK_LOCK = 0x6F72_6466_6275_6C6B  # what a bulk import holds SHARED for its whole run

LOCK_HELD = f"""
SELECT count(*) FROM pg_locks
 WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock'
   AND ((classid::bigint << 32) | objid::bigint) = {BULK_LOCK}
"""


@contextlib.asynccontextmanager
async def listening(pool: asyncpg.Pool) -> AsyncIterator[Listener]:
    """A listener whose node is unreachable (its sessions retry): only its start-up matters."""
    settings = ListenerSettings(POLYGON_RPC_URL="ws://127.0.0.1:9/", CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    task = asyncio.create_task(listener.run())
    try:
        yield listener
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(what)


async def unindexed_partition(pool: asyncpg.Pool) -> str:
    """A partition left as a killed import leaves it: bulk batches stored, its end never run."""
    logs = sim_logs("v2", 7)
    async with pool.acquire() as conn:
        for i in range(0, len(logs), 200):
            await store_batch(conn, decode_batch(logs[i : i + 200], 137), chain_id=137, bulk=True)
    (part,) = await unindexed(pool)
    return part


async def test_a_listener_start_builds_what_a_killed_import_left(
    dsn: str, pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path, _ = sim_file(tmp_path / "logs.jsonl")
    cmd, env = _cli(dsn, tmp_path, path)
    held: list[int] = []
    with (tmp_path / "killed.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)

        async def some_rows() -> bool:
            if not await pool.fetchval("SELECT count(*) FROM orderflow_trades"):
                return False
            held.append(await pool.fetchval(LOCK_HELD))
            return True

        await _kill_when(proc, some_rows)
    assert held == [1], "the running import holds the bulk-import lock"
    left = await unindexed(pool)
    assert left, "the killed import's partition is left without them"
    await until(lambda: _lock_gone(pool), "the killed import's lock is released")
    async with listening(pool):
        await until(lambda: _none_unindexed(pool), f"a listener start built {sorted(left)}'s")
    # exactly what a plain import's partitions have, none invalid
    async with other_pool.acquire() as conn:
        logs = [json.loads(line) for line in path.read_text().splitlines()]
        await store_batch(conn, decode_batch(logs, 137), chain_id=137)
    found, reference = await indexes(pool), await indexes(other_pool)
    assert {p: found[p] for p in left} == {p: reference[p] for p in left}
    assert not await pool.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid")


async def _lock_gone(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval(LOCK_HELD)


async def _none_unindexed(pool: asyncpg.Pool) -> bool:
    return not await unindexed(pool)


async def test_a_listener_leaves_them_to_a_running_import_and_says_so(
    pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.chain import index_recovery

    monkeypatch.setattr(index_recovery, "CHECK_SECS", 0.2)
    part = await unindexed_partition(pool)
    before = await indexes(pool)
    caplog.set_level(logging.WARNING, logger="orderflow.chain.index_recovery")
    async with pool.acquire() as importer:
        await importer.execute(f"SELECT pg_advisory_lock_shared({BULK_LOCK})")  # an import runs
        async with listening(pool):

            async def warned() -> bool:
                return any(part in str(getattr(r, "partitions", "")) for r in caplog.records)

            await until(warned, "the listener names the unindexed partition")
            await asyncio.sleep(0.5)  # a few more looks
            assert await indexes(pool) == before, "the running import's partition untouched"
            await importer.execute(f"SELECT pg_advisory_unlock_shared({BULK_LOCK})")
            await until(lambda: _none_unindexed(pool), "built once the import is gone")


async def test_an_invalid_index_counts_as_missing(pool: asyncpg.Pool) -> None:
    """A concurrent build killed mid-way leaves an INVALID index: listed, dropped, built again."""
    from orderflow.chain import index_recovery, partition_indexes

    part = await unindexed_partition(pool)
    async with pool.acquire() as conn:
        assert await partition_indexes.build_missing(conn) == [part]
        await conn.execute(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = $1::regclass",
            f"{part}_token_time",
        )
        assert await partition_indexes.missing(conn) == [part]
    assert await index_recovery.recover(pool) == ([part], [])
    async with pool.acquire() as conn:
        assert await partition_indexes.missing(conn) == []
        assert not await conn.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid")


async def test_an_imports_end_build_does_not_hold_up_the_live_listener(
    pool: asyncpg.Pool,
) -> None:
    """An import deferred the head's partition while it was empty, and the live listener then
    writes into it: the import's end builds it concurrently, and a live insert there goes on
    while the build waits for a writer's open transaction (a plain CREATE INDEX's SHARE request
    would queue every later insert behind it)."""
    from orderflow.chain import partition_indexes

    logs = sim_logs("v2", 8)
    half = len(logs) // 2
    top = max(int(log["blockNumber"], 16) for log in logs[:half])
    async with pool.acquire() as conn:  # the live listener is at the import's partition
        await store_batch(
            conn, DecodedBatch(), checkpoint=Checkpoint("listener", top), chain_id=137
        )
        await store_batch(conn, decode_batch(logs[:half], 137), chain_id=137, bulk=True)
    (part,) = await unindexed(pool)
    async with (
        pool.acquire() as writer,
        pool.acquire() as importer,
        pool.acquire() as live,
    ):
        tx = writer.transaction()  # a live insert in flight into that partition
        await tx.start()
        await writer.execute(f"LOCK TABLE {part} IN ROW EXCLUSIVE MODE")
        build = asyncio.create_task(partition_indexes.build_missing(importer))
        try:

            async def waiting() -> bool:
                return bool(
                    await pool.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
                        " AND wait_event_type = 'Lock'",
                        importer.get_server_pid(),
                    )
                )

            await until(waiting, "the end-of-import build waits for the writer")
            await live.execute("SET lock_timeout = '5s'")
            stored = await store_batch(live, decode_batch(logs[half:], 137), chain_id=137)
            assert stored.trades > 0
        finally:
            await tx.rollback()
            assert await build == [part]
    assert not await unindexed(pool)
    assert not await pool.fetchval("SELECT count(*) FROM pg_index WHERE NOT indisvalid")


async def test_the_reputation_runs_summary_names_them(pool: asyncpg.Pool) -> None:
    from orderflow.reputation.run import run_reputation

    part = await unindexed_partition(pool)
    summary = await run_reputation(pool)
    assert summary.unindexed_partitions == [part]
    async with pool.acquire() as conn:
        from orderflow.chain import partition_indexes

        await partition_indexes.build_missing(conn)
    assert (await run_reputation(pool)).unindexed_partitions == []
