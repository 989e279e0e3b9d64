"""A bulk import leaves the deferrable indexes out of the trades partitions it starts empty and
builds them at its end (migration 072, ``orderflow.chain.partition_indexes``): readers see every
committed row meanwhile; a kill -9 mid-load or mid-build, then a re-run, ends with exactly the
rows and indexes of a plain import; a reorg while unindexed and the node's own logs over the same
blocks afterwards change nothing more."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg

from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_file
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from tests.chain.test_ingest_workers import everything, sim_logs
from tests.cli_env import orderflow_env

DEFERRABLE = {
    "wallet_time": 'btree (wallet_address, "timestamp")',
    "token_time": 'btree (token_id, "timestamp", log_index) INCLUDE (price, block_number)',
    "timestamp": 'btree ("timestamp")',
    "self_match": "btree (wallet_address) WHERE ((taker_address)::text = (wallet_address)::text)",
}

# Each attached trades partition's index definitions, without their names.
INDEXES = """
SELECT c.relname::text AS part,
       substr(pg_get_indexdef(x.indexrelid), strpos(pg_get_indexdef(x.indexrelid), ' USING ') + 7)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_index x ON x.indrelid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass
"""


async def indexes(pool: asyncpg.Pool) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part, definition in await pool.fetch(INDEXES):
        out.setdefault(part, set()).add(definition)
    return out


async def unindexed(pool: asyncpg.Pool) -> set[str]:
    """The attached trades partitions lacking any deferrable index."""
    return {p for p, defs in (await indexes(pool)).items() if not set(DEFERRABLE.values()) <= defs}


def sim_file(path: Path) -> tuple[Path, list[dict[str, Any]]]:
    logs = [log for seed in (11, 12, 13) for log in sim_logs("v2", seed, days=3.0)]
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    return path, logs


async def test_a_bulk_batch_leaves_them_out_of_an_empty_partition_only(
    pool: asyncpg.Pool,
) -> None:
    logs = sim_logs("v2", 5)
    half = len(logs) // 2
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(logs[:half], 137), chain_id=137, bulk=True)
    part = f"orderflow_trades_p{int(logs[0]['blockNumber'], 16) // 1_296_000:04d}"
    assert await unindexed(pool) == {part}, "the empty partition a bulk batch went to"
    # every committed row is read all along, by the readers' own filters
    wallet = await pool.fetchval("SELECT wallet_address FROM orderflow_trades LIMIT 1")
    by_wallet = await pool.fetchval(
        "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", wallet
    )
    assert by_wallet == await pool.fetchval(
        "SELECT count(*) FROM (SELECT wallet_address FROM orderflow_trades OFFSET 0) t"
        " WHERE wallet_address = $1",
        wallet,
    )
    # a partition holding rows is never changed: a plain batch writes into it as it is, and a
    # partition a plain writer makes is indexed from the start
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(logs[half:], 137), chain_id=137)
        await conn.execute("SELECT orderflow_ensure_partitions(1296000 * 3, 1296000 * 3)")
    assert await unindexed(pool) == {part}
    from orderflow.chain import partition_indexes

    async with pool.acquire() as conn:
        assert await partition_indexes.missing(conn) == [part]
        assert await partition_indexes.build_missing(conn) == [part]
        assert await partition_indexes.build_missing(conn) == []  # idempotent
    found = await indexes(pool)
    assert not await unindexed(pool)
    assert found[part] == found["orderflow_trades_p0003"]


async def test_a_partition_in_use_keeps_them(pool: asyncpg.Pool) -> None:
    """The drop takes the empty partition NOWAIT: a reader holding it is not waited for, the
    import is a plain one there."""
    logs = sim_logs("v2", 6)
    block = int(logs[0]["blockNumber"], 16)
    async with pool.acquire() as conn:
        await conn.execute("SELECT orderflow_ensure_partitions($1, $1)", block)
    async with pool.acquire() as reader, pool.acquire() as writer, reader.transaction():
        await reader.fetchval("SELECT count(*) FROM orderflow_trades")
        await store_batch(writer, decode_batch(logs, 137), chain_id=137, bulk=True)
    assert not await unindexed(pool)


async def test_an_import_builds_them_at_its_end_through_a_reorg(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path, logs = sim_file(tmp_path / "logs.jsonl")
    # a bulk import cut short (its end never ran), then a reorg over its partition
    blocks = sorted({int(log["blockNumber"], 16) for log in logs})
    fork = blocks[len(blocks) // 3]
    async with pool.acquire() as conn:
        for i in range(0, len(logs) // 2, 200):
            await store_batch(conn, decode_batch(logs[i : i + 200], 137), chain_id=137, bulk=True)
        assert await unindexed(pool)
        assert (await rollback_from(conn, 137, fork)).trades > 0
    assert await unindexed(pool)
    await ingest_file(pool, path, chain_id=137, batch_size=50, workers=0, bulk=True)
    await ingest_file(other_pool, path, chain_id=137, batch_size=50, workers=0, bulk=False)
    assert not await unindexed(pool)
    assert await indexes(pool) == await indexes(other_pool)
    assert await everything(pool) == await everything(other_pool)


# --- kill -9 of `orderflow listen --from-file` mid-load and mid-build ----------------------------


def _cli(dsn: str, tmp_path: Path, path: Path) -> tuple[list[str], dict[str, str]]:
    env = orderflow_env(dsn, tmp_path)
    cmd = [sys.executable, "-m", "orderflow", "listen", "--from-file", str(path)]
    return [*cmd, "--batch-size", "20", "--workers", "0"], env


async def _kill_when(proc: subprocess.Popen[bytes], ready: Any) -> None:
    try:
        for _ in range(1200):
            await asyncio.sleep(0.05)
            if proc.poll() is not None or await ready():
                break
        assert proc.poll() is None, "the import finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


async def _rerun_converges(
    cmd: list[str], env: dict[str, str], pool: asyncpg.Pool, other_pool: asyncpg.Pool, path: Path
) -> None:
    done = await asyncio.to_thread(
        subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    await ingest_file(other_pool, path, chain_id=137, batch_size=20, workers=0, bulk=False)
    assert not await unindexed(pool)
    assert await indexes(pool) == await indexes(other_pool)
    stored, reference = await everything(pool), await everything(other_pool)
    # killed mid-build, the import had read the whole file: the re-run sees its dead letters a
    # second time (times_seen 2, as any finished import run again does); the rest is the same
    for found in (stored, reference):
        for letter in found["orderflow_dead_letters"]:
            letter.pop("times_seen")
    assert stored == reference
    # the node's own logs over the same blocks afterwards (a chain backfill, the live
    # listener): what they do to a plain import's rows, no more (here the same two fills are
    # replaced in both: the file's three simulated chains put two fills of different
    # transactions at one (block, log index); the import keeps the first, the node's the last)
    logs = [json.loads(line) for line in path.read_text().splitlines()]
    got = []
    for p in (pool, other_pool):
        async with p.acquire() as conn:
            s = await store_batch(conn, decode_batch(logs, 137), chain_id=137, authoritative=True)
        got.append((s.trades, s.matches, s.replaced_trades, s.replaced_matches))
    assert got[0] == got[1]
    after, reference = await everything(pool), await everything(other_pool)
    assert after["orderflow_trades"] == reference["orderflow_trades"]
    assert after["orderflow_matches"] == reference["orderflow_matches"]


async def test_kill_9_mid_load_then_rerun(
    dsn: str, pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path, _ = sim_file(tmp_path / "logs.jsonl")
    cmd, env = _cli(dsn, tmp_path, path)
    with (tmp_path / "killed.log").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)

        async def some_rows() -> bool:
            return bool(await pool.fetchval("SELECT count(*) FROM orderflow_trades") > 0)

        await _kill_when(proc, some_rows)
    left = await unindexed(pool)
    assert left, "the killed import's partition is left without them"
    # `orderflow db partitions` names it
    listed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "orderflow", "db", "partitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert all(f"{p}" in listed.stdout for p in left) and "UNINDEXED" in listed.stdout
    await _rerun_converges(cmd, env, pool, other_pool, path)


async def test_kill_9_mid_build_then_rerun(
    dsn: str, pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path, _ = sim_file(tmp_path / "logs.jsonl")
    cmd, env = _cli(dsn, tmp_path, path)
    async with pool.acquire() as blocker:
        with (tmp_path / "killed.log").open("wb") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
            tx = blocker.transaction()
            held: list[bool] = []

            async def building() -> bool:
                # once the partition was deferred and holds rows, a lock the import's inserts
                # share (ROW EXCLUSIVE) but CREATE INDEX (SHARE) waits for
                if not held:
                    parts = await unindexed(pool)
                    if parts and await pool.fetchval("SELECT count(*) FROM orderflow_trades"):
                        await tx.start()
                        for p in sorted(parts):
                            await blocker.execute(f"LOCK TABLE {p} IN ROW EXCLUSIVE MODE")
                        held.append(True)
                    return False
                return bool(
                    await pool.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND query LIKE '%orderflow_trade_indexes_build%'"
                    )
                )

            try:
                await _kill_when(proc, building)
            finally:
                if held:
                    await tx.rollback()
    assert await unindexed(pool), "the build killed mid-way left nothing half-built"
    await _rerun_converges(cmd, env, pool, other_pool, path)
