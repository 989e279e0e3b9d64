"""Benchmark: reputation recompute (full and incremental) on a synthetic database.

    .venv/bin/python benchmarks/reputation.py                       # 1,000,000 wallets, 20M trades
    .venv/bin/python benchmarks/reputation.py --wallets 10000 --trades 200000

Builds a fresh database (``reputation_data.build``: generate_series in SQL: one INSERT per
million trades, then the per-(wallet, token) sums of migration 011 in one INSERT ... SELECT, as
a history import does), then in the same run times

* the full recompute at the present from the stored sums (``orderflow reputation run --full``),
  and again with nothing changed;
* the same recompute as of a past time (``--as-of``: scans the trades);
* a bare ``GROUP BY wallet`` over the trades (the floor; the ratio is the issue's goal);
* an incremental run after inserting 4 % new trades (through the triggers, stamped within the
  last hour, in open markets: "incremental: N new trades, W wallets rescored in X s"), and
  another after an hour of mainnet-like traffic (0.4 % new trades by 2 % of the wallets in 2 %
  of the markets, open ones: the CLOB stops trading a market when it resolves; a twentieth of
  those markets resolve at the hour's end; the 4 % change traded the other open markets);
* the seed's per-wallet loop on a subset (one query per wallet, replay and score in Python:
  ``orderflow.reputation.per_wallet.wallet_report``),

and prints the rates (wallets per second) and ratios. Uses ``--dsn`` / ``DATABASE_URL``
(a maintenance database on a server where it may create and drop ``orderflow_bench_*``) or else
starts a private embedded PostgreSQL under ``--data-dir``.

The synthetic market model: ``reputation_data.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # reputation_data

from reputation_data import (  # noqa: E402
    AS_OF,
    RECENT_TRADES,
    RESOLVE_NOW,
    build,
    open_markets,
    wallet_address,
)

from orderflow import db  # noqa: E402
from orderflow.migrate import migrate  # noqa: E402
from orderflow.reputation import ReputationSettings, run_reputation  # noqa: E402
from orderflow.reputation.per_wallet import wallet_report  # noqa: E402
from orderflow.reputation.run_models import RunSummary  # noqa: E402


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


# The floor any wallet-level scoring has to beat: one aggregation of every trade by wallet.
BARE_GROUP_BY = """
SELECT count(*) FROM (
    SELECT wallet_address, count(*), sum(usdc_size), min(timestamp), max(timestamp)
      FROM orderflow_trades GROUP BY wallet_address) g
"""


async def bare_group_by(dsn: str, work_mem: str) -> float:
    """Seconds for BARE_GROUP_BY on the benchmark table (same work_mem as the run)."""
    conn = await db.connect(dsn)
    try:
        await conn.execute(f"SET work_mem = '{work_mem}'")
        started = time.perf_counter()
        await conn.fetchval(BARE_GROUP_BY)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def trades_disk_bytes(dsn: str) -> int:
    """Heap + indexes + TOAST of orderflow_trades (and its partitions, if any)."""
    conn = await db.connect(dsn)
    try:
        value = await conn.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c"
            " WHERE c.oid = 'orderflow_trades'::regclass"
            " OR c.oid IN (SELECT inhrelid FROM pg_inherits"
            "              WHERE inhparent = 'orderflow_trades'::regclass)"
        )
        return int(value or 0)
    finally:
        await conn.close()


async def per_wallet_loop(dsn: str, wallets: int, sample: int) -> tuple[float, int]:
    """The seed's way: for each wallet, query its trades, compute, score. Sequential."""
    step = max(1, wallets // sample)
    addresses = [wallet_address(w) for w in range(0, wallets, step)][:sample]
    conn = await db.connect(dsn)
    try:
        started = time.perf_counter()
        for address in addresses:
            await wallet_report(conn, address, as_of=AS_OF)
        return time.perf_counter() - started, len(addresses)
    finally:
        await conn.close()


def stage_times(stages: dict[str, float]) -> str:
    """A run's stages (``RunSummary.stages``: SQL statements and Python steps, in order) with
    their share of the run, e.g. ``positions 1.20 s (18%), closes 0.31 s (5%), ...``."""
    total = sum(stages.values()) or 1.0
    return ", ".join(f"{k} {v:.2f} s ({100 * v / total:.0f}%)" for k, v in stages.items())


async def main_async(args: argparse.Namespace) -> int:
    server = None
    admin_dsn = args.dsn or os.environ.get("DATABASE_URL")
    if not admin_dsn:
        import pgserver  # the embedded server orderflow uses

        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="orderflow-bench-"))
        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(data_dir, cleanup_mode="delete" if not args.keep else None)  # type: ignore[attr-defined]
        admin_dsn = str(server.get_uri("postgres"))
        # Our own throw-away server: fewer checkpoints while loading millions of rows.
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute("ALTER SYSTEM SET max_wal_size = '8GB'")
        await admin.execute("ALTER SYSTEM SET checkpoint_timeout = '30min'")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()
    name = args.reuse or f"orderflow_bench_{uuid.uuid4().hex[:8]}"
    if not args.reuse:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
    dsn = _with_database(admin_dsn, name)
    markets = args.markets or max(10, args.wallets // 10)
    try:
        timings = {"load_secs": float("nan"), "index_secs": float("nan"), "sums_secs": float("nan")}
        if not args.reuse:
            print(
                f"building {name}: {args.wallets:,} wallets, {args.trades:,} trades, "
                f"{markets:,} markets …",
                file=sys.stderr,
            )
            timings = await build(dsn, args.wallets, args.trades, markets, args.chunk)
            print(f"built in {timings}", file=sys.stderr, flush=True)
        else:  # a database built by an older tree: bring its schema to this one's
            conn = await db.connect(dsn)
            try:
                applied = await migrate(conn)
            finally:
                await conn.close()
            if applied:
                print(f"migrated {name}: {', '.join(applied)}", file=sys.stderr, flush=True)
        if args.build_only:
            return 0
        settings = ReputationSettings(work_mem=args.work_mem)
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            bare_before = await bare_group_by(dsn, args.work_mem)
            started = time.perf_counter()
            summary = await run_reputation(pool, settings=settings, full=True)
            full_secs = time.perf_counter() - started
            second = time.perf_counter()
            rerun = await run_reputation(pool, settings=settings, full=True)
            rerun_secs = time.perf_counter() - second
            bare_secs = min(bare_before, await bare_group_by(dsn, args.work_mem))
            started = time.perf_counter()
            scan = await run_reputation(pool, as_of=AS_OF, settings=settings)
            scan_secs = time.perf_counter() - started
            await run_reputation(pool, settings=settings, full=True)  # inputs for the next run
            new_trades = max(1, args.trades * 4 // 100)
            async with pool.acquire() as conn:
                # the next trade number: args.trades on a fresh database; past the trades an
                # earlier run of --reuse added (their numbers make their chain positions)
                first = max(
                    args.trades, await conn.fetchval("SELECT count(*) FROM orderflow_trades")
                )
                still_open = await open_markets(conn, markets)
            if not still_open:
                raise SystemExit(f"none of the {markets:,} markets is open: no new trades")
            # the hour below trades 2 % of the markets; the 4 % change before it, stamped in the
            # same hour, the other open ones: an hour's trades after it in time, as on mainnet,
            # do not fall in the same COPIER buckets (which an update reads again)
            few_markets = min(len(still_open), max(1, markets // 50))
            hour_markets = still_open[:few_markets]
            busy_markets = still_open[few_markets:] or still_open
            async with pool.acquire() as conn:
                started = time.perf_counter()
                await conn.execute(
                    RECENT_TRADES,
                    first,
                    first + new_trades - 1,
                    args.wallets,
                    len(busy_markets),
                    busy_markets,
                )
                insert_secs = time.perf_counter() - started
            started = time.perf_counter()
            inc = await run_reputation(pool, settings=settings)
            inc_secs = time.perf_counter() - started
            # an hour of mainnet-like traffic: 0.4 % new trades by 2 % of the wallets in 2 % of
            # the markets (open ones), a twentieth of which resolve at the hour's end
            small = max(1, args.trades // 250)
            few_wallets = max(1, args.wallets // 50)
            resolving = hour_markets[: max(1, few_markets // 20)]
            async with pool.acquire() as conn:
                await conn.execute(
                    RECENT_TRADES,
                    first + new_trades,
                    first + new_trades + small - 1,
                    few_wallets,
                    few_markets,
                    hour_markets,
                )
                await conn.execute(RESOLVE_NOW, resolving)
            started = time.perf_counter()
            inc_small = await run_reputation(pool, settings=settings)
            small_secs = time.perf_counter() - started
        finally:
            await pool.close()
        disk = await trades_disk_bytes(dsn)
        loop_secs, loop_wallets = await per_wallet_loop(dsn, args.wallets, args.baseline_wallets)
    finally:
        if not args.keep:
            admin = await asyncpg.connect(admin_dsn)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        if server is not None and not args.keep:
            server.cleanup()

    full_rate = summary.wallets / full_secs if full_secs else float("inf")
    loop_rate = loop_wallets / loop_secs if loop_secs else float("inf")
    print(
        f"synthetic database: {args.wallets:,} wallets, {args.trades:,} trades, "
        f"{markets:,} markets; load {timings['load_secs']:.1f} s, "
        f"indexes+analyze {timings['index_secs']:.1f} s"
    )
    print(
        f"per-(wallet, token) sums built in {timings.get('sums_secs', float('nan')):.1f} s "
        f"(once, as after a history import)"
    )
    print(
        f"full recompute (set-based): {summary.wallets:,} wallets, {summary.positions:,} "
        f"positions in {full_secs:.1f} s = {full_rate:,.0f} wallets/s, from the stored sums "
        f"(second run, with history unchanged: {rerun_secs:.1f} s)"
    )
    print(f"stages (s): {summary.stages}")
    print(f"  full run by stage: {stage_times(summary.stages)}")
    print(f"  second full run by stage: {stage_times(rerun.stages)}")
    print(
        f"bare GROUP BY wallet over the same trades: {bare_secs:.1f} s -> full recompute = "
        f"{full_secs / bare_secs:.2f}x the bare aggregation (goal <= 4.5x)"
    )
    print(
        f"as-of recompute (scans the trades): {scan.wallets:,} wallets in {scan_secs:.1f} s "
        f"= {scan_secs / bare_secs:.2f}x the bare aggregation; stages (s): {scan.stages}"
    )
    print(
        f"incremental: {new_trades:,} new trades, {inc.rescored:,} wallets rescored in "
        f"{inc_secs:.1f} s ({path(inc)}; {inc.wallets:,} scored, {inc.candidates:,} rows given "
        f"to the upsert; inserting them took {insert_secs:.1f} s through the triggers)"
    )
    print(f"incremental stages (s): {inc.stages}")
    print(f"  incremental run by stage: {stage_times(inc.stages)}")
    print(
        f"incremental after an hour ({small:,} new trades by {few_wallets:,} wallets in "
        f"{few_markets:,} open markets, {len(resolving):,} of them resolving): "
        f"{inc_small.rescored:,} wallets rescored in {small_secs:.1f} s "
        f"({path(inc_small)}; {inc_small.candidates:,} rows given to the upsert); stages (s): "
        f"{inc_small.stages}"
    )
    print(f"  hourly run by stage: {stage_times(inc_small.stages)}")
    print(
        f"disk: orderflow_trades {disk / 1e9:.2f} GB = "
        f"{disk / max(args.trades, 1) * 1e6 / 1e6:,.0f} MB per million fills; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"tiers: {summary.tiers}  issues: {summary.issues}")
    print(
        f"seed per-wallet loop: {loop_wallets:,} wallets in {loop_secs:.2f} s = "
        f"{loop_rate:,.1f} wallets/s -> all {args.wallets:,} would take "
        f"{args.wallets / loop_rate:,.0f} s"
    )
    print(f"ratio set-based / per-wallet: {full_rate / loop_rate:,.1f}x")
    print(target_line(args.wallets, args.trades, full_secs))
    print(hourly_target_line(args.wallets, small_secs))
    return 0


def path(run: RunSummary) -> str:
    """How a run at the present computed: incremental, or the switch to a full recompute."""
    share = "" if run.changed_share is None else f"{run.changed_share:.1%} of the wallets changed"
    if run.switched:
        return f"switched to a full recompute: {share}"
    return "incremental path" + (f", {share}" if share else "")


def target_line(wallets: int, trades: int, full_secs: float) -> str:
    """The issue's full-recompute target (120 s at 1 M wallets / 20 M trades): a verdict only
    at that size or above; a smaller run says what it measured, not that it meets it."""
    target = 120.0
    if wallets < 1_000_000 or trades < 20_000_000:
        return (
            f"target <= {target:.0f} s for the full recompute applies at 1,000,000 wallets / "
            f"20,000,000 trades: not judged at this size ({full_secs:.1f} s)"
        )
    verdict = "meets" if full_secs <= target else "MISSES"
    return f"target <= {target:.0f} s for the full recompute: {verdict} ({full_secs:.1f} s)"


def hourly_target_line(wallets: int, secs: float) -> str:
    """The issue's hourly target (5 s after an hour of mainnet-like traffic on a 1 M-wallet
    database): a verdict only at that size or above."""
    target = 5.0
    if wallets < 1_000_000:
        return (
            f"target <= {target:.0f} s for the hourly run applies at 1,000,000 wallets: not "
            f"judged at this size ({secs:.1f} s)"
        )
    verdict = "meets" if secs <= target else "MISSES"
    return f"target <= {target:.0f} s for the hourly run: {verdict} ({secs:.1f} s)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--wallets", type=int, default=1_000_000)
    p.add_argument("--trades", type=int, default=20_000_000)
    p.add_argument("--markets", type=int, default=0, help="default: wallets / 10")
    p.add_argument(
        "--baseline-wallets", type=int, default=500, help="wallets timed with the per-wallet loop"
    )
    p.add_argument("--chunk", type=int, default=1_000_000, help="trades per INSERT")
    p.add_argument("--work-mem", default="256MB")
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the benchmark database")
    p.add_argument("--build-only", action="store_true", help="build (use with --keep) and stop")
    p.add_argument("--reuse", metavar="DATABASE", help="time an existing benchmark database")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
