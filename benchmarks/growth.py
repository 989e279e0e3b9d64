"""Benchmark: the growth curve of the real path (issue 14) — ingest and scoring as fills pile up.

    .venv/bin/python benchmarks/growth.py                        # checkpoints at 1 M and 10 M fills
    .venv/bin/python benchmarks/growth.py --points 1M,10M,100M   # 100 M: hours, ~100 GB of disk
    .venv/bin/python benchmarks/growth.py --quick                # 100 k and 300 k (the smoke test)

One database grows through the shipped ingest path: ``orderflow.chain.ingest.ingest_logs`` in
bulk mode (decode in a worker thread, ``store_batch`` by COPY, the per-(wallet, token) sums
folded in at the end of each segment, as ``orderflow listen --from-file`` does). The raw logs are
generated as they are consumed (``benchmarks/log_mix.py``'s block of trading, so memory stays
bounded): about one new wallet per ``--fills-per-wallet`` fills, a new market every
``--fills-per-market`` fills, each resolving once ``--active-markets`` newer ones exist, so the
older markets carry resolved positions for scoring.

At each checkpoint (``--points``) it prints, for the segment since the previous checkpoint: the
wall ingest rate, the CPU per fill of the one PostgreSQL backend that stored it (load-independent)
and of this Python process (generation + decoding + writing); the disk of orderflow_trades and
orderflow_matches (partitions and indexes included) and of the whole database, per million fills;
then, on the whole table, the full reputation recompute (``run_reputation(full=True)``, what
``orderflow reputation run --full`` calls) with its backend's CPU, a bare ``GROUP BY wallet``
over the trades, and the load average. A final table repeats the checkpoints.

Uses ``--dsn`` / ``DATABASE_URL`` (a maintenance database on a server where it may create and
drop ``orderflow_bench_*``) or else a private embedded PostgreSQL (pgserver) under
``--data-dir`` (default: a temporary directory, deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, ingest, growth_chain

from growth_chain import GrowingChain  # noqa: E402
from log_mix import CHAIN_ID  # noqa: E402
from proc_cpu import cpu_seconds_or_none  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.ingest import ingest_logs  # noqa: E402
from orderflow.reputation import ReputationSettings, run_reputation  # noqa: E402

# The floor of any wallet-level scoring: one aggregation of every fill by wallet (counted on the
# server, so the time is PostgreSQL's, not the transfer of one row per wallet).
BARE_GROUP_BY = """
SELECT count(*) FROM (
    SELECT wallet_address, count(*), sum(usdc_size) FROM orderflow_trades GROUP BY 1) g
"""
# Heap + indexes + TOAST of a table and all its partitions.
TREE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree($1)"
)


@dataclass
class Score:
    """The full reputation run and the bare aggregation on the whole table at a checkpoint."""

    wallets: int
    positions: int
    secs: float
    cpu: float | None  # its backend's CPU seconds (None: a remote server)
    source: str
    bare_secs: float
    stages: dict[str, float]


@dataclass
class Point:
    """One checkpoint: the segment's ingest, the whole table's size and (maybe) its scoring."""

    fills: int
    segment_fills: int
    segment_logs: int
    ingest_secs: float
    backend_cpu: float | None
    python_cpu: float
    trades_bytes: int
    matches_bytes: int
    database_bytes: int
    resolved: int
    wallets: int  # in the generator so far
    score: Score | None
    load: tuple[float, float, float]

    def lines(self) -> list[str]:
        m = self.fills / 1e6
        seg = max(self.segment_fills, 1)
        backend = (
            f"backend {self.backend_cpu / seg * 1e6:.1f} us/fill"
            if self.backend_cpu is not None
            else "backend CPU n/a (remote server)"
        )
        out = [
            f"== {self.fills:,} fills stored ({self.wallets:,} wallets, "
            f"{self.resolved:,} markets resolved)",
            f"  ingest of the last {self.segment_fills:,} fills ({self.segment_logs:,} logs): "
            f"{self.segment_fills / self.ingest_secs:,.0f} fills/s wall "
            f"({self.ingest_secs:.1f} s); "
            f"{backend}, python {self.python_cpu / seg * 1e6:.1f} us/fill "
            f"(generation + decoding + writing)",
            f"  disk: trades {self.trades_bytes / 1e6 / m:,.0f} MB + matches "
            f"{self.matches_bytes / 1e6 / m:,.0f} MB per M fills; whole database "
            f"{self.database_bytes / 1e9:.2f} GB = {self.database_bytes / 1e6 / m:,.0f} MB per M",
        ]
        r = self.score
        if r is not None:
            cpu = f", backend CPU {r.cpu:.1f} s" if r.cpu is not None else ""
            out += [
                f"  full reputation run: {r.secs:.1f} s ({r.secs / m:.1f} s per M fills{cpu}; "
                f"{r.wallets:,} wallets, {r.positions:,} positions from {r.source}); bare "
                f"GROUP BY wallet {r.bare_secs:.2f} s (x{r.secs / r.bare_secs:.0f})",
                f"  reputation stages (s): {r.stages}",
            ]
        out.append("  load average {:.1f} {:.1f} {:.1f}".format(*self.load))
        return out


def parse_count(text: str) -> int:
    """``300k``, ``1M``, ``1.5M``, ``100M`` or a plain number."""
    text = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


async def _grow(
    dsn: str, chain: GrowingChain, fills: int, batch_size: int
) -> tuple[int, int, float, float | None, float]:
    """Ingest up to ``fills``: (trades stored, logs, wall s, backend CPU s, python CPU s)."""
    logs_before, fills_before = chain.logs, chain.fills
    pool = await db.create_pool(dsn, min_size=1, max_size=1)  # one backend does all the storing
    try:
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        server0, client0 = cpu_seconds_or_none(backend), time.process_time()
        started = time.perf_counter()
        report = await ingest_logs(
            pool, chain.until(fills), chain_id=CHAIN_ID, batch_size=batch_size, bulk=True
        )
        wall = time.perf_counter() - started
        server1, client = cpu_seconds_or_none(backend), time.process_time() - client0
        if await pool.fetchval("SELECT pg_backend_pid()") != backend:
            server0 = None  # the pool replaced its connection: that backend's CPU is lost
    finally:
        await pool.close()
    assert report.stored.dead_letters == 0, report.summary()
    # every generated fill stored once (the generator counts what the store does)
    assert report.stored.trades == chain.fills - fills_before, report.summary()
    server = server1 - server0 if server0 is not None and server1 is not None else None
    return report.stored.trades, chain.logs - logs_before, wall, server, client


async def _disk(dsn: str) -> tuple[int, int, int]:
    """Bytes of orderflow_trades, orderflow_matches (partitions and indexes) and the database."""
    conn = await db.connect(dsn)
    try:
        trades = await conn.fetchval(TREE_BYTES, "orderflow_trades")
        matches = await conn.fetchval(TREE_BYTES, "orderflow_matches")
        database = await conn.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await conn.close()
    return int(trades), int(matches), int(database)


async def _score(dsn: str, settings: ReputationSettings) -> Score:
    """The bare GROUP BY, then the full run the CLI's ``reputation run --full`` does."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)  # the run uses one at a time
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"SET work_mem = '{settings.work_mem}'")
            started = time.perf_counter()
            await conn.fetchval(BARE_GROUP_BY)
            bare = time.perf_counter() - started
            await conn.execute("RESET work_mem")
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        cpu0 = cpu_seconds_or_none(backend)
        started = time.perf_counter()
        summary = await run_reputation(pool, settings=settings, full=True)
        secs = time.perf_counter() - started
        cpu1 = cpu_seconds_or_none(backend)
        if await pool.fetchval("SELECT pg_backend_pid()") != backend:
            cpu0 = None
    finally:
        await pool.close()
    return Score(
        wallets=summary.wallets,
        positions=summary.positions,
        secs=secs,
        cpu=cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
        source=summary.source,
        bare_secs=bare,
        stages=summary.stages,
    )


async def run(
    args: argparse.Namespace, points: list[int], score_at: set[int] | None
) -> list[Point]:
    results: list[Point] = []
    chain = GrowingChain(
        seed=args.seed,
        fills_per_wallet=args.fills_per_wallet,
        fills_per_market=args.fills_per_market,
        active=args.active_markets,
        repeat=args.repeat,
    )
    settings = ReputationSettings(work_mem=args.work_mem)
    async with scratch_server(args.dsn, args.data_dir, "orderflow-growth-") as scratch:
        dsn = await scratch.fresh()
        print(
            f"growing {scratch.created[-1]} to {', '.join(f'{p:,}' for p in points)} fills",
            flush=True,
        )
        stored = 0
        for target in points:
            trades, logs, wall, backend, python = await _grow(dsn, chain, target, args.batch_size)
            stored += trades
            t_bytes, m_bytes, d_bytes = await _disk(dsn)
            scored = score_at is None or target in score_at
            point = Point(
                fills=stored,
                segment_fills=trades,
                segment_logs=logs,
                ingest_secs=wall,
                backend_cpu=backend,
                python_cpu=python,
                trades_bytes=t_bytes,
                matches_bytes=m_bytes,
                database_bytes=d_bytes,
                resolved=chain.markets_resolved,
                wallets=chain.wallets,
                score=await _score(dsn, settings) if scored else None,
                load=os.getloadavg(),
            )
            results.append(point)
            print("\n".join(point.lines()), flush=True)
    return results


def table(points: list[Point]) -> str:
    """The checkpoints as a Markdown table (what docs/benchmarks.md "growth" shows)."""
    rows = [
        "| fills | segment fills/s wall | backend us/fill | python us/fill | trades+matches MB/M "
        "| database MB/M | wallets scored | positions | full run s | s per M fills | backend "
        "CPU s | bare GROUP BY s | load (1 min) |",
        "|" + "---:|" * 13,
    ]
    for p in points:
        m, seg = p.fills / 1e6, max(p.segment_fills, 1)
        backend = f"{p.backend_cpu / seg * 1e6:.1f}" if p.backend_cpu is not None else "n/a"
        r = p.score
        if r is None:
            score = "| | | not scored | | | | "
        else:
            cpu = f"{r.cpu:.1f}" if r.cpu is not None else "n/a"
            score = (
                f"| {r.wallets:,} | {r.positions:,} | {r.secs:.1f} | {r.secs / m:.1f} | {cpu} "
                f"| {r.bare_secs:.2f} "
            )
        rows.append(
            f"| {p.fills:,} | {p.segment_fills / p.ingest_secs:,.0f} | {backend} "
            f"| {p.python_cpu / seg * 1e6:.1f} "
            f"| {(p.trades_bytes + p.matches_bytes) / 1e6 / m:,.0f} "
            f"| {p.database_bytes / 1e6 / m:,.0f} {score}| {p.load[0]:.1f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--points", default="1M,10M", help="checkpoints, fills in the table (1M,10M; 100M: hours)"
    )
    p.add_argument("--quick", action="store_true", help="checkpoints 100k,300k (smoke test)")
    p.add_argument(
        "--score-at",
        help="score only at these checkpoints ('none': ingest and disk only; default: all)",
    )
    p.add_argument("--fills-per-wallet", type=int, default=15, help="one new wallet per N (15)")
    p.add_argument("--fills-per-market", type=int, default=2000, help="a new market per N (2000)")
    p.add_argument("--active-markets", type=int, default=200, help="markets open at once (200)")
    p.add_argument(
        "--repeat", type=float, default=0.7, help="chance a fill is by a recent trader (0.7)"
    )
    p.add_argument("--batch-size", type=int, default=5_000, help="logs per transaction (5,000)")
    p.add_argument("--work-mem", default="256MB", help="the reputation run's work_mem (256MB)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    args = p.parse_args(argv)
    points = sorted(
        {parse_count(x) for x in ("100k,300k" if args.quick else args.points).split(",")}
    )
    score_at = None
    if args.score_at is not None:
        score_at = {parse_count(x) for x in args.score_at.split(",") if x not in ("", "none")}
    results = asyncio.run(run(args, points, score_at))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
