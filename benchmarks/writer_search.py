"""Benchmark: the node's batches on a database migrated with its history in place.

    .venv/bin/python benchmarks/writer_search.py                  # 40 partitions of 10,000 fills
    .venv/bin/python benchmarks/writer_search.py --partitions 10 --fills 2000 --seed 2

The history is loaded the way a database that predates migration 066 holds it: the schema
migrated up to 065, ``--partitions`` partitions of ``--fills`` fills each written by SQL (who
wrote them not recorded), then every migration of this tree applied (066 seeds the writer spans
with every partition; 070, where the tree has it, records each stored transaction). Then, timed,
the listener's stores of the node's logs (``store_batch(…, authoritative=True)``) of new
transactions above the history: ``--live`` batches of 100 fills (a live block) and ``--ranges``
of 5,000 (a backfill range), each its own block span. Reports each kind's median and range of
milliseconds per batch, wall and the PostgreSQL backend's CPU (/proc, an embedded server's: the
figure load disturbs least), the partitions of the trades its batches read (PostgreSQL's statistics)
and the machine's load. The tree measured is the one the script is run from (``PYTHONPATH``):
run it from two trees for before and after. Uses ``--dsn`` / ``DATABASE_URL`` or a private
embedded PostgreSQL (``benchmarks/scratch_db.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import asyncpg  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow.chain import partitions  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.encode import LogPosition  # noqa: E402
from orderflow.chain.encode_trades import encode_fill  # noqa: E402
from orderflow.chain.store import store_batch  # noqa: E402
from orderflow.migrate import migrate, migrations_dir  # noqa: E402

CHAIN_ID = 137
BEFORE = 66  # the first migration applied with the history in place
# The history: rows of one transaction each, blocks spread over each partition, as a V2 import's.
LOAD = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
    timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
    is_taker_aggregate, side, token_id, price, size, usdc_size, fee, fee_asset)
SELECT 137, '0x' || lpad(to_hex($3::bigint * 1000000000 + i), 64, 'e'), 1,
       $1::bigint + i * ($4::bigint / $2::int), '0x' || lpad(to_hex($1::bigint + i), 64, 'b'),
       to_timestamp(1700000000 + $1::bigint + i), '0x' || repeat('e1', 20), 'V2',
       '0x' || lpad(to_hex($3::bigint * 1000000000 + i), 64, 'c'),
       '0x' || lpad(to_hex(i % 997), 40, 'a'), '0x' || repeat('e1', 20), false,
       'BUY', 7 + i % 5, 0.5, 10, 5, 0, 'COLLATERAL'
  FROM generate_series(0, $2::int - 1) AS i
"""
SIZES = """
SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
         WHERE inhparent = 'orderflow_trades'::regclass),
       pg_total_relation_size(to_regclass('orderflow_writer_txs'))
"""
PAIRS = "SELECT count(*) FROM orderflow_writer_txs"
FILL = 70  # the record's migration: the migrations before it are applied first, untimed
READS = """
SELECT s.relname, s.seq_scan + coalesce(s.idx_scan, 0)
  FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass AND s.relname = ANY($1::text[])
"""


async def _reads(watch: asyncpg.Connection, loaded: list[str]) -> dict[str, int]:
    """Scans (sequential and index) of each loaded partition so far."""
    await watch.execute("SELECT pg_stat_clear_snapshot()")
    return {r[0]: int(r[1]) for r in await watch.fetch(READS, loaded)}


def _cpu_ms(pid: int) -> float | None:
    """Milliseconds process ``pid`` ran on a CPU (/proc schedstat; None: not a local process)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e6
    except OSError:
        return None


def _h(tag: str) -> str:
    return "0x" + tag.rjust(64, "0")


def _fills(first_block: int, n: int, per_block: int, tag: int) -> list[dict[str, object]]:
    """``n`` fills of new transactions (three fills each), ``per_block`` to a block."""
    logs = []
    for i in range(n):
        block = first_block + i // per_block
        at = LogPosition(
            block_number=block,
            block_hash=_h(f"b{block:x}"),
            tx_hash=_h(f"d{tag:x}{i // 3:08x}"),
            log_index=i % per_block,
            timestamp=1_800_000_000 + block,
        )
        logs.append(
            encode_fill(
                "V2",
                at=at,
                order_hash=_h(f"f{tag:x}{i:08x}"),
                maker=f"0x{random.randrange(2**160):040x}",
                taker="0x" + "b0" * 20,
                side="BUY",
                token_id=7,
                shares=10_000_000,
                collateral=5_000_000,
            )
        )
    return logs


async def _history(dsn: str, parts: int, fills: int) -> tuple[int, list[str]]:
    """The history loaded as before migration 066, then every migration; returns the partitions'
    size in blocks and the names of the loaded partitions. Times the migrations from 070 (the
    record's fill) on."""
    old = Path(tempfile.mkdtemp(prefix="writer-search-"))
    then = Path(tempfile.mkdtemp(prefix="writer-search-then-"))
    try:
        for path in migrations_dir().glob("*.sql"):
            if int(path.name.split("_", 1)[0]) < BEFORE:
                shutil.copy(path, old / path.name)
        for path in migrations_dir().glob("*.sql"):
            if int(path.name.split("_", 1)[0]) < FILL:
                shutil.copy(path, then / path.name)
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn, old)
            span = int(await conn.fetchval("SELECT orderflow_partition_blocks()"))
            await partitions.ensure(conn, 0, parts * span - 1)
            for p in range(parts):
                await conn.execute(LOAD, p * span, fills, p + 1, span)
            await conn.execute("ANALYZE orderflow_trades")
            await migrate(conn, then)
            t0 = time.perf_counter()
            applied = await migrate(conn)
            print(f"migrations {', '.join(applied)}: {time.perf_counter() - t0:.1f} s")
            sizes = await conn.fetchrow(SIZES)
            pairs = int(await conn.fetchval(PAIRS)) if sizes[1] is not None else 0
            print(
                f"trades {sizes[0] / 2**20:.1f} MiB with their indexes; the writers' record "
                + (
                    f"{sizes[1] / 2**20:.1f} MiB, {pairs} pairs, "
                    f"{sizes[1] / pairs:.0f} bytes a pair"
                    if pairs
                    else "absent or empty"
                )
            )
            return span, [f"orderflow_trades_p{p:04d}" for p in range(parts)]
        finally:
            await conn.close()
    finally:
        shutil.rmtree(old)
        shutil.rmtree(then)


async def _run(args: argparse.Namespace) -> None:
    random.seed(args.seed)
    async with scratch_server(args.dsn) as scratch:
        _, dsn = await scratch.create()
        span, loaded = await _history(dsn, args.partitions, args.fills)
        conn, watch = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            block = args.partitions * span + 10
            kinds = [("live", 100, 100, args.live), ("range", 5000, 25, args.ranges)]
            tag = 1
            for name, n, per_block, count in kinds:
                times: list[float] = []
                cpu: list[float] = []
                before = await _reads(watch, loaded)
                for _ in range(count + 1):  # the first: warm-up
                    batch = decode_batch(_fills(block, n, per_block, tag), CHAIN_ID)
                    t0, c0 = time.perf_counter(), _cpu_ms(conn.get_server_pid())
                    await store_batch(conn, batch, chain_id=CHAIN_ID, authoritative=True)
                    times.append((time.perf_counter() - t0) * 1000)
                    c1 = _cpu_ms(conn.get_server_pid())
                    if c0 is not None and c1 is not None:
                        cpu.append(c1 - c0)
                    block += n // per_block + 1
                    tag += 1
                await conn.execute("SELECT pg_stat_force_next_flush()")
                after = await _reads(watch, loaded)
                read = {k: n - before.get(k, 0) for k, n in after.items() if n > before.get(k, 0)}
                timed, used = times[1:], cpu[1:]
                backend = (
                    f"; backend CPU median {statistics.median(used):.1f} ms"
                    f" ({min(used):.1f}-{max(used):.1f})"
                    if used
                    else ""
                )
                print(
                    f"{name} batches of {n} fills: median {statistics.median(timed):.1f} ms "
                    f"({min(timed):.1f}-{max(timed):.1f}, {count} batches){backend}; history "
                    f"partitions read: {len(read)} of {len(loaded)} ({sum(read.values())} scans)"
                )
        finally:
            await conn.close()
            await watch.close()
    print(f"load {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} {os.getloadavg()[2]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=40)
    parser.add_argument("--fills", type=int, default=10_000, help="fills per partition")
    parser.add_argument("--live", type=int, default=30, help="live batches of 100 fills")
    parser.add_argument("--ranges", type=int, default=5, help="backfill ranges of 5,000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dsn", default=None)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
