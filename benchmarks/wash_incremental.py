"""Benchmark: the counterparty evidence after an hour of new trading -- ``WASH`` over every fill
against the stored cells updated around the new ones (orderflow.reputation.wash_state), same run.

    .venv/bin/python benchmarks/wash_incremental.py                 # 300 k fills, stretched x100
    .venv/bin/python benchmarks/wash_incremental.py --fills 100k --rounds 2

Growth data (``benchmarks/growth.py``'s generator and bulk ingest path: maker rows naming their
counterparty) up to ``--fills``; its timestamps stretched ``--stretch`` times (the generator makes
about 7 hours of trading at 300 k fills; x100 spreads them over a month, so that an hour is the
small part of the history it is on the real chain, as docs/scaling.md 3.3's design note did);
the last ``--hour-secs`` of trading held back, the cells built, the held-back fills stored again
(new ids, as the listener stores them; the position sums' marks cleared before, so only the
hour's keys are marked). Then, ``--rounds`` times, in one transaction rolled back after: the
hour's keys claimed as an incremental run claims them (their wallets' share volumes compared;
``--all-volumes``: every wallet's), the incremental step (update + assemble) and ``WASH``,
alternating which runs first, each timed by its backend's CPU (``/proc``: load-independent) and
wall; the two ``rep_wash`` compared bit for bit. Also the build (what a live full run adds),
and the ingest path's extra CPU from migration 023's update trigger (segments with it enabled
and disabled, alternated; inserts have no trigger). Prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, log_mix, growth_chain

from growth import parse_count  # noqa: E402
from growth_chain import GrowingChain  # noqa: E402
from log_mix import CHAIN_ID, T0  # noqa: E402
from proc_cpu import cpu_seconds_or_none  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.ingest import ingest_logs  # noqa: E402
from orderflow.chain.pending_sums import fold  # noqa: E402
from orderflow.reputation import ReputationSettings, wash_assemble, wash_state  # noqa: E402
from orderflow.reputation.wash_sql import WASH, wash_settings  # noqa: E402

REBUILD_SHARE = wash_state.REBUILD_SHARE
THIN = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address"""
TRIGGER = "orderflow_trades_wash_update"
CLAIM = """CREATE TEMP TABLE bench_claimed ON COMMIT DROP AS
WITH d AS (DELETE FROM orderflow_position_sums_changes RETURNING wallet_address)
SELECT DISTINCT wallet_address FROM d"""


def _bits(v: Any) -> Any:
    return v.hex() if isinstance(v, float) else v


async def _rows(conn: Any) -> dict[tuple[Any, Any], tuple[Any, ...]]:
    rows = await conn.fetch("SELECT * FROM rep_wash")
    await conn.execute("DROP TABLE rep_wash")
    return {(r["wallet_address"], r["token_id"]): tuple(map(_bits, r.values())) for r in rows}


class Timed:
    """Backend CPU and wall of a block of statements on one connection."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    async def __aenter__(self) -> Timed:
        self.cpu0, self.t0 = cpu_seconds_or_none(self.pid), time.perf_counter()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        cpu1 = cpu_seconds_or_none(self.pid)
        self.cpu = cpu1 - self.cpu0 if cpu1 is not None and self.cpu0 is not None else None


class Traced:
    """A connection whose ``execute`` records each statement's backend CPU (``--trace``)."""

    def __init__(self, conn: Any, pid: int) -> None:
        self._conn, self._pid = conn, pid
        self.seen: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def execute(self, query: str, *args: Any) -> Any:
        cpu0 = cpu_seconds_or_none(self._pid) or 0.0
        out = await self._conn.execute(query, *args)
        key = " ".join(query.split())[:70]
        self.seen[key] = self.seen.get(key, 0.0) + (cpu_seconds_or_none(self._pid) or 0.0) - cpu0
        return out

    def top(self, n: int = 8) -> str:
        rows = sorted(self.seen.items(), key=lambda kv: -kv[1])[:n]
        return "\n".join(f"    {v:6.2f} s  {k}" for k, v in rows)


def _fmt(t: Timed) -> str:
    return f"{t.cpu:.2f} s CPU / {t.wall:.2f} s" if t.cpu is not None else f"{t.wall:.2f} s wall"


async def _ingest(dsn: str, chain: GrowingChain, fills: int, trigger: bool) -> tuple[int, float]:
    """Store up to ``fills`` through the bulk path; (fills stored, backend CPU s)."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        state = "ENABLE" if trigger else "DISABLE"
        await pool.execute(f"ALTER TABLE orderflow_trades {state} TRIGGER {TRIGGER}")
        pid = await pool.fetchval("SELECT pg_backend_pid()")
        cpu0 = cpu_seconds_or_none(pid)
        report = await ingest_logs(pool, chain.until(fills), chain_id=CHAIN_ID, bulk=True)
        cpu1 = cpu_seconds_or_none(pid)
        await pool.execute(f"ALTER TABLE orderflow_trades ENABLE TRIGGER {TRIGGER}")
    finally:
        await pool.close()
    cpu = cpu1 - cpu0 if cpu1 is not None and cpu0 is not None else float("nan")
    return report.stored.trades, cpu


async def run(args: argparse.Namespace) -> None:
    chain = GrowingChain(
        seed=args.seed,
        fills_per_wallet=args.fills_per_wallet,
        fills_per_market=args.fills_per_market,
        active=args.active_markets,
    )
    settings = ReputationSettings(work_mem=args.work_mem)
    wash_state.REBUILD_SHARE = float("inf")  # the update is measured whatever the change
    wash_args = wash_settings(settings)
    async with scratch_server(args.dsn, args.data_dir, "orderflow-washi-") as scratch:
        dsn = await scratch.fresh()
        # the ingest path with and without migration 023's update trigger, alternated
        seg = args.ingest_segment
        per: dict[bool, list[tuple[int, float]]] = {True: [], False: []}
        target = 0
        for i in range(4 if seg else 0):
            target += seg
            per[i % 2 == 0].append(await _ingest(dsn, chain, target, trigger=i % 2 == 0))
        await _ingest(dsn, chain, args.fills, trigger=True)
        print(f"loadavg after ingest: {os.getloadavg()}", flush=True)
        for on in (True, False):
            n, cpu = sum(x[0] for x in per[on]), sum(x[1] for x in per[on])
            if n:
                label = "enabled" if on else "disabled"
                print(f"ingest, update trigger {label}: {n:,} fills, {1e6 * cpu / n:.1f} µs/fill")
        conn = await db.connect(dsn)
        try:
            await fold(conn)
            pid = await conn.fetchval("SELECT pg_backend_pid()")
            await conn.execute(f"SET work_mem = '{settings.work_mem}'")
            await conn.execute("SET max_parallel_workers_per_gather = 0")
            # stretch the trading, hold the last hour back
            await conn.execute(
                f"ALTER TABLE orderflow_trades DISABLE TRIGGER {TRIGGER}"
            )  # the build below reads everything anyway
            await conn.execute(
                "UPDATE orderflow_trades SET timestamp = to_timestamp($1 + (extract(epoch FROM"
                " timestamp) - $1) * $2)",
                T0,
                args.stretch,
            )
            await conn.execute(f"ALTER TABLE orderflow_trades ENABLE TRIGGER {TRIGGER}")
            await conn.execute(
                """CREATE TABLE bench_hour AS SELECT * FROM orderflow_trades
                    WHERE timestamp > (SELECT max(timestamp) FROM orderflow_trades)
                                      - make_interval(secs => $1)""",
                args.hour_secs,
            )
            await conn.execute(
                "DELETE FROM orderflow_trades WHERE id IN (SELECT id FROM bench_hour)"
            )
            await conn.execute("ANALYZE")
            facts = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM orderflow_trades) AS fills,
                          (SELECT count(*) FROM bench_hour) AS hour,
                          (SELECT count(*) FROM bench_hour WHERE NOT is_taker_aggregate
                              AND taker_address <> exchange AND taker_address <> wallet_address)
                              AS hour_maker,
                          (SELECT count(*) FROM orderflow_trades WHERE NOT is_taker_aggregate
                              AND taker_address <> exchange AND taker_address <> wallet_address)
                              AS maker"""
            )
            print(
                f"history {facts['fills']:,} fills ({facts['maker']:,} maker rows naming a taker),"
                f" then {facts['hour']:,} new fills ({facts['hour_maker']:,} maker rows) in the"
                f" last {args.hour_secs:.0f} s, timestamps x{args.stretch:g}",
                flush=True,
            )
            as_of = await conn.fetchval("SELECT now()")
            async with conn.transaction():
                await conn.execute(THIN)
                traced_build = Traced(conn, pid)
                async with Timed(pid) as build:
                    await wash_state.begin(traced_build)
                    await wash_state.build(traced_build, as_of, settings)
                async with Timed(pid) as full0:
                    await conn.execute(WASH, as_of, *wash_args)
                # the rows as a run stores them (orderflow_reputation_wash)
                await conn.execute("CREATE TABLE bench_stored AS SELECT * FROM rep_wash")
                await conn.execute("DROP TABLE rep_wash")
            cells = await conn.fetchval("SELECT count(*) FROM orderflow_wash_cells")
            print(f"build: {_fmt(build)} (WASH alone {_fmt(full0)}); {cells:,} cells", flush=True)
            if args.trace:
                print(traced_build.top(), flush=True)
            cols = await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'bench_hour'::regclass"
                " AND attnum > 0 AND NOT attisdropped AND attname <> 'id' ORDER BY attnum"
            )
            names = ", ".join(f'"{r["attname"]}"' for r in cols)
            # what the run that built the cells claimed (a live run clears the marks it reads)
            await conn.execute("DELETE FROM orderflow_position_sums_changes")
            await conn.execute(
                f"INSERT INTO orderflow_trades ({names}) SELECT {names} FROM bench_hour"
            )
            await fold(conn)
            await conn.execute("ANALYZE orderflow_trades")
            as_of = await conn.fetchval("SELECT now()")
            share = await wash_state.changed_share(
                conn,
                await conn.fetchval("SELECT last_id FROM orderflow_wash_state"),
                await conn.fetchval("SELECT max(id) FROM orderflow_trades"),
            )
            print(
                f"changed share {share:.4f} (the switch rebuilds above"
                f" {REBUILD_SHARE}: incremental ≈ WASH + build?)",
                flush=True,
            )
            inc_cpu, full_cpu = [], []
            claimed = None if args.all_volumes else "SELECT wallet_address FROM bench_claimed"
            for r in range(args.rounds):
                tx = conn.transaction()
                await tx.start()
                await conn.execute(CLAIM)  # the hour's keys, as incremental._claim takes them
                await conn.execute(THIN)
                order = ("inc", "full") if r % 2 == 0 else ("full", "inc")
                got: dict[str, Any] = {}
                for which in order:
                    if which == "inc":
                        traced = Traced(conn, pid)
                        async with Timed(pid) as t:
                            assert await wash_state.update(traced, as_of, settings, claimed)
                            await wash_assemble.assemble(
                                traced, as_of, settings, stored="bench_stored"
                            )
                        stats = await conn.fetchrow(
                            """SELECT (SELECT count(*) FROM rep_wash_d) AS d,
                                      (SELECT count(*) FROM rep_wash_f) AS f,
                                      (SELECT count(*) FROM rep_wash_s) AS s2,
                                      (SELECT count(*) FROM rep_wash_w) AS w,
                                      (SELECT count(*) FROM rep_wash_c) AS c,
                                      (SELECT count(*) FROM rep_wash_u) AS u,
                                      (SELECT count(DISTINCT wallet_address)
                                         FROM rep_positions) AS wallets"""
                        )
                        inc_cpu.append(t)
                    else:
                        async with Timed(pid) as t:
                            await conn.execute(WASH, as_of, *wash_args)
                        full_cpu.append(t)
                    got[which] = await _rows(conn)
                await tx.rollback()
                same = got["inc"] == got["full"]
                print(
                    f"round {r + 1}: incremental {_fmt(inc_cpu[-1])}, WASH {_fmt(full_cpu[-1])},"
                    f" rows {len(got['full']):,}, identical: {same}; dirty buckets {stats['d']:,},"
                    f" flipped {stats['f']}, pass-2 buckets {stats['s2']:,}, wallets re-summed"
                    f" {stats['w']:,}, rows assembled {stats['c']:,} reading {stats['u']:,} of"
                    f" {stats['wallets']:,} wallets; load {os.getloadavg()}",
                    flush=True,
                )
                assert same
                if args.trace:
                    print(traced.top(), flush=True)
            if all(t.cpu is not None for t in inc_cpu + full_cpu):
                inc = sum(t.cpu or 0 for t in inc_cpu)
                full = sum(t.cpu or 0 for t in full_cpu)
                print(f"total backend CPU: incremental {inc:.2f} s, WASH {full:.2f} s,"
                      f" ratio x{full / inc:.1f}")  # fmt: skip
        finally:
            await conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--fills", type=parse_count, default=300_000, help="fills stored (300k)")
    p.add_argument("--stretch", type=float, default=100.0, help="timestamps x this (100)")
    p.add_argument("--hour-secs", type=float, default=3600.0, help="new trading held back (3600)")
    p.add_argument("--rounds", type=int, default=3, help="incremental vs WASH rounds (3)")
    p.add_argument(
        "--ingest-segment", type=parse_count, default=0,
        help="fills per ingest segment, trigger on/off alternated x4 (0: none)",
    )  # fmt: skip
    p.add_argument(
        "--trace", action="store_true", help="the incremental step's costliest statements"
    )
    p.add_argument(
        "--all-volumes", action="store_true",
        help="compare every wallet's share volume (not only the claimed keys' wallets)",
    )  # fmt: skip
    p.add_argument("--fills-per-wallet", type=int, default=15)
    p.add_argument("--fills-per-market", type=int, default=2000)
    p.add_argument("--active-markets", type=int, default=200)
    p.add_argument("--work-mem", default="256MB")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
