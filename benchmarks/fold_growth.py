"""Benchmark: the fold's cost per fill as ``orderflow_position_sums`` grows (issue 14).

    .venv/bin/python benchmarks/fold_growth.py                        # 0.5 M, 2 M, 5 M positions
    .venv/bin/python benchmarks/fold_growth.py --sizes 0,1M --logs 50000   # the smoke test

One bulk import of ``--logs`` generated V2 logs (``benchmarks/log_mix.py``'s generator) is stored
with its sums deferred (``ingest_logs(bulk=True)`` with the fold held back), so its fills wait
in ``orderflow_position_sums_pending``. For each size N a copy of that database gets N more
positions written in SQL (``--overlap`` of the pending fills' keys among them, at random places
of the heap, so the fold updates as well as inserts; the rest random keys, 20 per wallet, ~50
per token; their wallets' counters too), its sums read once by index (so shared_buffers holds
what a long import's would), and then, for each variant in a copy of its own:

* the fold (``orderflow_position_sums_fold()``): backend CPU and wall per pending fill, and the
  blocks it read and found in shared_buffers per relation of the two tables it upserts;
* one live (not bulk) batch of ``--live-logs`` logs stored through ``store_batch``: backend CPU
  per fill, and the insert trigger's own time (``pg_stat_user_functions``);
* with ``--explain``: ``EXPLAIN (ANALYZE, BUFFERS)`` of the fold's statement (a further copy).

Variants: ``tree`` (the functions the migrations of this tree define) and ``shipped`` (the fold
and insert trigger as migrations 011 and 014 defined them, before migration 026 put the upsert
in key order: re-created from the migration files), so
before and after are compared in the same run on the same data. Uses ``--dsn`` /
``DATABASE_URL`` (``--local``: that server runs here, read its backends' CPU) or else a private
embedded PostgreSQL (pgserver; its default 128 MB of shared_buffers), as
``benchmarks/scratch_db.py`` does. ``--fillfactor`` sets the sums' fillfactor before the load
(an experiment). Results: docs/benchmarks.md "Fold cost as the sums grow".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import patch
from urllib.parse import urlsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, ingest, scratch_db

from log_mix import CHAIN_ID, generate  # noqa: E402
from proc_cpu import cpu_seconds_or_none  # noqa: E402
from scratch_db import Scratch, scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import ingest  # noqa: E402

MIGRATIONS = ROOT / "migrations"

# N positions that are not the pending fills' keys (20 per wallet, tokens drawn from N / 50)
# plus the share ``overlap`` of the pending keys, written in one random order (so the heap is
# not in key order, as a table grown by imports is not); the indexes are built afterwards.
PREFILL = """
CREATE TEMP TABLE prefill_keys AS
SELECT random() AS pos, k.wallet_address, k.token_id
  FROM (SELECT DISTINCT wallet_address::text AS wallet_address, token_id::numeric AS token_id
          FROM orderflow_trades) k
 WHERE random() < $2
UNION ALL
SELECT g.pos, g.wallet_address, g.token_id
  FROM (SELECT DISTINCT ON (w, t) i::float8 / $1 AS pos,
               '0x' || md5(w::text) || substr(md5((-w)::text), 1, 8) AS wallet_address,
               (1e76 + t::numeric * 1e40 + (t::numeric * 7919) % 1000003) AS token_id, w, t
          FROM generate_series(1, $1::bigint) i,
               LATERAL (SELECT i / 20 AS w,
                               (hashint8(i) & 2147483647) % greatest($1::bigint / 50, 100) AS t) x
         ORDER BY w, t) g
"""
PREFILL_INSERT = """
INSERT INTO orderflow_position_sums
SELECT k.wallet_address, k.token_id, NULL, NULL, 1 + (h % 7),
       h % 9000000, h % 5000000, h % 3000000, h % 2000000, 0, 0, 0, 0, 0,
       h % 4000000, h % 2500000, 0, 0, (h % 1000) / 100.0, 0,
       NULL, '2026-01-01'::timestamptz + make_interval(secs => h % 9000000),
       '2026-06-01'::timestamptz + make_interval(secs => h % 9000000)
  FROM (SELECT *, (hashtext(wallet_address) & 2147483647)::bigint AS h FROM prefill_keys) k
 ORDER BY k.pos
"""
PREFILL_COUNTERS = """
INSERT INTO orderflow_wallet_stats
       (wallet_address, total_trades, total_volume_usdc, first_trade_at, last_trade_at)
SELECT wallet_address, sum(fills), sum(paid_gross_u + received_gross_u) / 1000000,
       min(first_at), max(last_at)
  FROM orderflow_position_sums GROUP BY wallet_address
ON CONFLICT (wallet_address) DO NOTHING
"""
# The sums' indexes, dropped for the load and built after it (as migration 011 defines them).
INDEXES_OFF = """
ALTER TABLE orderflow_position_sums DROP CONSTRAINT orderflow_position_sums_pkey;
DROP INDEX orderflow_position_sums_token;
"""
INDEXES_ON = """
ALTER TABLE orderflow_position_sums ADD PRIMARY KEY (wallet_address, token_id);
CREATE INDEX orderflow_position_sums_token ON orderflow_position_sums (token_id);
"""
# Read the sums and their indexes once by index scans (pages a long import keeps touching stay
# in shared_buffers; a table larger than they are does not fit).
WARM = [
    "SELECT count(*) FROM (SELECT * FROM orderflow_position_sums"
    " ORDER BY wallet_address, token_id) s",
    "SELECT count(*) FROM (SELECT token_id FROM orderflow_position_sums ORDER BY token_id) s",
]
PENDING_FILLS = f"SELECT count(*) FROM {'{rows}'} r"
FOLD_STATEMENT = (
    "SELECT orderflow_position_sums_add_sql(orderflow_position_sums_pending_rows(), TRUE)"
)
# Blocks read from outside shared_buffers and found in them, per relation of the two upserted
# tables (the server's counters: flushed by the session, then read afresh).
STATIO = """
SELECT relname AS rel, heap_blks_read AS read, heap_blks_hit AS hit FROM pg_statio_user_tables
 WHERE relname IN ('orderflow_position_sums', 'orderflow_wallet_stats')
UNION ALL
SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes
 WHERE relname IN ('orderflow_position_sums', 'orderflow_wallet_stats')
"""
SIZES = (
    "SELECT pg_relation_size('orderflow_position_sums'), pg_indexes_size('orderflow_position_sums')"
)


def shipped_sql() -> str:
    """The upsert as it was before migration 026 put it in key order: the statement builder as
    it stands (migration 030) without 026's two ORDER BYs, and the fold and insert trigger as
    migration 014 made them around it (CREATE OR REPLACE)."""
    m030 = (MIGRATIONS / "030_position_sums_changes.sql").read_text()
    m014 = (MIGRATIONS / "014_deferred_position_sums.sql").read_text()
    add = re.search(
        r"CREATE OR REPLACE FUNCTION orderflow_position_sums_add_sql\(.*?\n\$f\$;",
        m030,
        re.DOTALL,
    )
    blocks = re.findall(r"\nDO \$\$\n.*?\n\$\$;", m014, re.DOTALL)
    wanted = [b for b in blocks if "_fold()" in b or "_on_insert()" in b]
    assert add is not None and len(wanted) == 2, "migrations 030/014 changed shape"
    unordered = (
        add.group(0)
        .replace(" ORDER BY t.wallet_address, t.token_id", "")
        .replace("\n ORDER BY s.wallet_address", "")
    )
    parts = [unordered, *wanted]
    return "\n".join(p.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION") for p in parts)


def parse_size(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


@dataclass
class Figures:
    size: int  # positions before the fold
    variant: str
    fills: int
    fold_cpu: float | None
    fold_secs: float
    live_fills: int = 0
    live_cpu: float | None = None
    trigger_ms: float | None = None
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)  # the fold's (read, hit)


async def statio(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return {r["rel"]: (r["read"], r["hit"]) for r in await conn.fetch(STATIO)}


def db_name(dsn: str) -> str:
    return urlsplit(dsn).path.lstrip("/")


async def pending_base(scratch: Scratch, logs: list[dict[str, Any]]) -> str:
    """A migrated database holding ``logs`` stored in bulk mode, their sums not folded."""
    dsn = await scratch.fresh()
    pool = await db.create_pool(dsn, min_size=1, max_size=1)

    async def no_fold(_pool: asyncpg.Pool, _claimed: asyncio.Event | None = None) -> int:
        return 0

    try:  # the import's folds held back: its sums stay pending
        with patch.object(ingest, "fold_in", no_fold):
            await ingest.ingest_logs(pool, logs, chain_id=CHAIN_ID, batch_size=5000, bulk=True)
    finally:
        await pool.close()
    return dsn


async def prefill(dsn: str, size: int, overlap: float, fillfactor: int | None) -> None:
    conn = await db.connect(dsn)
    try:
        if fillfactor is not None:  # an experiment: room on each page for HOT updates
            await conn.execute(
                f"ALTER TABLE orderflow_position_sums SET (fillfactor = {fillfactor})"
            )
        await conn.execute(INDEXES_OFF)
        if size:
            await conn.execute(PREFILL, size, overlap)
            await conn.execute(PREFILL_INSERT)
            await conn.execute(PREFILL_COUNTERS)
        await conn.execute(INDEXES_ON)
        await conn.execute("VACUUM ANALYZE orderflow_position_sums")
        await conn.execute("VACUUM ANALYZE orderflow_wallet_stats")
    finally:
        await conn.close()


async def _prepared(dsn: str, variant: str) -> asyncpg.Connection:
    """A connection to ``dsn`` with ``variant``'s functions in place and the caches warmed."""
    conn = await db.connect(dsn)
    try:
        if variant == "shipped":
            await conn.execute(shipped_sql())
        for sql in WARM:
            await conn.fetchval(sql, timeout=3600)
    except BaseException:
        await conn.close()
        raise
    return conn


async def measure(
    dsn: str, size: int, variant: str, live: list[dict[str, Any]], local: bool
) -> Figures:
    conn = await _prepared(dsn, variant)
    try:
        fills = await conn.fetchval(
            PENDING_FILLS.format(
                rows=await conn.fetchval("SELECT orderflow_position_sums_pending_rows()")
            )
        )
        pid = await conn.fetchval("SELECT pg_backend_pid()") if local else None
        blocks0 = await statio(conn)
        cpu0, t0 = cpu_seconds_or_none(pid), time.perf_counter()
        async with conn.transaction():
            await conn.fetchval("SELECT orderflow_position_sums_fold()", timeout=3600)
        secs, cpu1 = time.perf_counter() - t0, cpu_seconds_or_none(pid)
        fold_cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
        blocks = {
            rel: (read - blocks0[rel][0], hit - blocks0[rel][1])
            for rel, (read, hit) in (await statio(conn)).items()
        }
    finally:
        await conn.close()
    figures = Figures(size, variant, fills, fold_cpu, secs, blocks=blocks)
    if live:
        pool = await db.create_pool(
            dsn, min_size=1, max_size=1, server_settings={"track_functions": "pl"}
        )
        try:
            pid = await pool.fetchval("SELECT pg_backend_pid()") if local else None
            before = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
            cpu0 = cpu_seconds_or_none(pid)
            await ingest.ingest_logs(pool, live, chain_id=CHAIN_ID, batch_size=len(live))
            cpu1 = cpu_seconds_or_none(pid)
            figures.live_fills = (
                await pool.fetchval("SELECT count(*) FROM orderflow_trades") - before
            )
            if cpu0 is not None and cpu1 is not None:
                figures.live_cpu = cpu1 - cpu0
            await pool.execute("SELECT pg_stat_force_next_flush()")
            figures.trigger_ms = await pool.fetchval(
                "SELECT total_time FROM pg_stat_user_functions"
                " WHERE funcname = 'orderflow_position_sums_on_insert'"
            )
        finally:
            await pool.close()
    return figures


async def explain(dsn: str, variant: str) -> str:
    conn = await _prepared(dsn, variant)
    try:
        statement = await conn.fetchval(FOLD_STATEMENT)
        async with conn.transaction():
            rows = await conn.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {statement}", timeout=3600
            )
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


def us(cpu: float | None, n: int) -> str:
    return "—" if cpu is None or not n else f"{cpu / n * 1e6:.1f}"


async def main_async(args: argparse.Namespace) -> int:
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    variants = args.variants.split(",")
    print(f"generating {args.logs + args.live_logs:,} V2 logs …", flush=True)
    logs = generate(args.logs + args.live_logs, args.seed, ("V2",))
    live = logs[args.logs :] if args.live_logs else []
    results: list[Figures] = []
    async with scratch_server(args.dsn, args.data_dir, prefix="orderflow-fold-") as scratch:
        base = db_name(await pending_base(scratch, logs[: args.logs]))
        for size in sizes:
            sized, sized_dsn = await scratch.create(base)
            started = time.perf_counter()
            await prefill(sized_dsn, size, args.overlap, args.fillfactor)
            conn = await db.connect(sized_dsn)
            heap, indexes = await conn.fetchrow(SIZES)
            await conn.close()
            print(
                f"{size:,} positions: heap {heap / 2**20:.0f} MB, indexes {indexes / 2**20:.0f} MB"
                f" (built in {time.perf_counter() - started:.0f} s)",
                flush=True,
            )
            for variant in variants * args.repeat:
                _, dsn = await scratch.create(sized)
                f = await measure(dsn, size, variant, live, scratch.local or args.local)
                results.append(f)
                print(
                    f"  {variant:8} fold {f.fills:,} fills: {us(f.fold_cpu, f.fills)} µs CPU,"
                    f" {f.fold_secs / f.fills * 1e6:.1f} µs wall per fill; live batch"
                    f" {f.live_fills:,} fills: {us(f.live_cpu, f.live_fills)} µs CPU per fill,"
                    f" trigger {f.trigger_ms or 0:.0f} ms  (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                print(
                    "    blocks read / hit per fill: "
                    + ", ".join(
                        f"{rel.removeprefix('orderflow_')} {r / f.fills:.2f} / {h / f.fills:.2f}"
                        for rel, (r, h) in sorted(f.blocks.items())
                    ),
                    flush=True,
                )
            if args.explain:
                for variant in variants:
                    _, dsn = await scratch.create(sized)
                    print(
                        f"--- EXPLAIN, {size:,} positions, {variant}\n{await explain(dsn, variant)}"
                    )
    print(
        "\n| positions | variant | fold µs CPU / fill | fold µs wall / fill | live µs CPU / fill |"
        " insert trigger ms |"
    )
    print("|---:|---|---:|---:|---:|---:|")
    for f in results:
        print(
            f"| {f.size:,} | {f.variant} | {us(f.fold_cpu, f.fills)} |"
            f" {f.fold_secs / f.fills * 1e6:.1f} | {us(f.live_cpu, f.live_fills)} |"
            f" {f.trigger_ms or 0:.0f} |"
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="500k,2M,5M", help="positions before the fold")
    p.add_argument("--logs", type=int, default=200_000, help="V2 logs whose sums are folded")
    p.add_argument("--live-logs", type=int, default=5_000, help="one live batch (0: none)")
    p.add_argument("--overlap", type=float, default=0.5, help="share of pending keys stored")
    p.add_argument("--variants", default="shipped,tree")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--explain", action="store_true")
    p.add_argument("--fillfactor", type=int, help="of orderflow_position_sums (an experiment)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dsn")
    p.add_argument("--local", action="store_true", help="--dsn's server runs here: read its CPU")
    p.add_argument("--data-dir")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
