"""Benchmark: the reputation run's wallets statement against an older copy, in one transaction.

    .venv/bin/python benchmarks/reputation.py --wallets 20000 --trades 400000 \\
        --keep --build-only --data-dir /tmp/bench-pg
    .venv/bin/python benchmarks/wallets_statement.py --data-dir /tmp/bench-pg \\
        --database orderflow_bench_xxxxxxxx

Builds what a full run builds before its wallets statement (positions from the stored sums,
closing lines, counterparties), then runs the current ``WALLETS`` and the old statement
(``--old``: a file holding its SQL, default the copy frozen from main in
``tests/reputation/wallets_frozen_main.sql``) in turn, ``--repeat`` times each, and prints each
one's wall time and backend CPU (``/proc/<backend pid>/stat``: same machine only) and how many
rows differ (EXCEPT ALL both ways over the columns both make, ``idx`` left out) with the largest
relative difference of a float column. Nothing is written: the transaction is rolled back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orderflow.reputation import evidence_sql  # noqa: E402
from orderflow.reputation.run import build_evidence  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402


def backend_cpu(pid: int) -> float:
    """User + system CPU seconds of a local backend process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def prepare(conn: asyncpg.Connection, s: ReputationSettings) -> None:
    await build_evidence(conn, datetime.now(UTC), s, stored=True)


async def compare(conn: asyncpg.Connection, a: str, b: str) -> tuple[int, float]:
    """Rows differing between tables ``a`` and ``b`` and the largest relative difference of a
    float column between the same wallet's rows, over the columns both have (a column the
    current statement added is left out)."""
    cols = await conn.fetch(
        "SELECT quote_ident(attname) AS n, atttypid = 'float8'::regtype AS f FROM pg_attribute"
        " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attname <> 'idx'"
        " AND attname IN (SELECT attname FROM pg_attribute WHERE attrelid = $2::regclass"
        " AND attnum > 0 AND NOT attisdropped)"
        " ORDER BY attnum",
        a,
        b,
    )
    names = ", ".join(c["n"] for c in cols)
    differing = await conn.fetchval(
        f"""SELECT count(*) FROM ((SELECT {names} FROM {a} EXCEPT ALL SELECT {names} FROM {b})
            UNION ALL (SELECT {names} FROM {b} EXCEPT ALL SELECT {names} FROM {a})) d"""
    )
    rel = ", ".join(
        f"abs(x.{c['n']} - y.{c['n']}) / nullif(greatest(abs(x.{c['n']}), abs(y.{c['n']})), 0)"
        for c in cols
        if c["f"]
    )
    worst = await conn.fetchval(
        f"""SELECT max(r) FROM {a} x JOIN {b} y USING (wallet_address)
             CROSS JOIN LATERAL unnest(ARRAY[{rel}]) AS r WHERE r <> 'NaN'"""
    )
    return int(differing), float(worst or 0.0)


async def main_async(args: argparse.Namespace) -> int:
    dsn = args.dsn or f"postgresql://postgres@/{args.database}?host={args.data_dir}"
    statements = {"current": evidence_sql.WALLETS, "old": args.old_sql}
    s = ReputationSettings(work_mem=args.work_mem)
    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        tx = conn.transaction()
        await tx.start()
        await prepare(conn, s)
        positions = await conn.fetchval("SELECT count(*) FROM rep_positions")
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in statements}
        for _ in range(args.repeat):
            for name, sql in statements.items():
                await conn.execute(f"DROP TABLE IF EXISTS rep_wallets_{name}")
                cpu, wall = backend_cpu(pid), time.perf_counter()
                # the current statement's $1: hedged_leg_window_secs, $2: the legs' cut-off
                # (NULL: every stored leg, a run at the present); an old one may have neither
                params: tuple[int | None, ...] = (s.hedged_leg_window_secs,) if "$1" in sql else ()
                params += (None,) if "$2" in sql else ()
                await conn.execute(sql, *params)
                times[name].append((backend_cpu(pid) - cpu, time.perf_counter() - wall))
                await conn.execute(f"ALTER TABLE rep_wallets RENAME TO rep_wallets_{name}")
        wallets = await conn.fetchval("SELECT count(*) FROM rep_wallets_current")
        differing, worst = await compare(conn, "rep_wallets_current", "rep_wallets_old")
        await tx.rollback()
    finally:
        await conn.close()
    print(f"{wallets:,} wallets, {positions:,} positions, work_mem {args.work_mem}")
    for name, runs in times.items():
        cpus = " ".join(f"{c:.2f}" for c, _ in runs)
        walls = " ".join(f"{w:.2f}" for _, w in runs)
        print(f"{name}: backend CPU {cpus} s; wall {walls} s")
    best = {k: min(c for c, _ in v) for k, v in times.items()}
    print(f"current / old backend CPU (best of {args.repeat}): {best['current'] / best['old']:.2f}")
    print(f"rows differing: {differing:,}; largest relative difference of a float: {worst:.2e}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="the benchmark database's URL (else --data-dir + --database)")
    p.add_argument("--data-dir", help="embedded server directory (its socket is there)")
    p.add_argument("--database", help="the benchmark database's name")
    p.add_argument("--old", default=str(ROOT / "tests/reputation/wallets_frozen_main.sql"))
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--work-mem", default="256MB")
    args = p.parse_args(argv)
    args.old_sql = Path(args.old).read_text()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
