"""Benchmark: the COPIER pairing statement on dense taker buys, main's (unbounded) against this
tree's (``copy_look_back``), in one run.

    .venv/bin/python benchmarks/copy_pairing.py --buys 50000 --spacings 35,7

For each spacing (seconds between two buys of a token) it makes a synthetic ``rep_buys`` of
``--buys`` taker buys by ``--wallets`` wallets within one day (as many tokens as that spacing
needs: a token's buys evenly spread, its buyers and prices at random, 0.40-0.60), then runs
both statements over it, ``--repeat`` times each, alternating, and prints each one's wall time,
its cells and pairs a buy, the ratio, and the load. Main's statement (before the look-back,
commit 19e6adb ``copy_sql.cells``) is kept below verbatim as the baseline: it pairs a buy with
every buy of its token in the window before it, so its work grows with the window's buys; this
tree's with at most ``copy_look_back``. Nothing is kept: a scratch database, dropped at the end
(``--dsn`` / ``DATABASE_URL``, else a private embedded server).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # scratch_db

from scratch_db import scratch_server  # noqa: E402

from orderflow.reputation import copy_sql  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402

# main's pairing before the look-back (19e6adb, copy_sql.cells("TRUE")), verbatim. $1 = window.
MAIN_CELLS = """
CREATE TEMP TABLE rep_copy_cells ON COMMIT DROP AS
WITH pairs AS MATERIALIZED (
    SELECT c.w AS f, b.w AS l, c.tok, c.tok2, c.bucket AS fb, b.bucket AS lb,
           c.id AS f_id, b.id AS l_id
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8) AND b.ts < c.ts
       AND b.p <= c.p AND b.w <> c.w
    UNION ALL
    SELECT c.w, b.w, c.tok, c.tok2, c.bucket, b.bucket, c.id, b.id
      FROM rep_buys c
      JOIN rep_buys b ON b.tok = c.tok AND b.tok2 = c.tok2 AND b.bucket = c.bucket - 1
     WHERE b.ts >= c.ts - make_interval(secs => $1::float8)
       AND b.p <= c.p AND b.w <> c.w
),
trail AS (  -- the follower's buys trailing one of the leader's
    SELECT f, l, tok, tok2, b, count(*) AS trail
      FROM (SELECT f, l, tok, tok2, fb AS b, f_id FROM pairs
             GROUP BY f, l, tok, tok2, fb, f_id) AS x
     WHERE TRUE
     GROUP BY f, l, tok, tok2, b
),
lead AS (  -- the follower's buys its leader trails
    SELECT f, l, tok, tok2, b, count(*) AS lead
      FROM (SELECT l AS f, f AS l, tok, tok2, lb AS b, l_id FROM pairs
             GROUP BY l, f, tok, tok2, lb, l_id) AS x
     WHERE TRUE
     GROUP BY f, l, tok, tok2, b
)
SELECT f, l, tok, tok2, b, coalesce(t.trail, 0)::int8 AS trail, coalesce(d.lead, 0)::int8 AS lead
  FROM trail t FULL JOIN lead d USING (f, l, tok, tok2, b)
"""

# $1 buys, $2 wallets, $3 buys a token, $4 seconds between a token's buys, $5 window (seconds).
# One row per (wallet, token, time) as copy_sql's BUYS makes it (a repeat at random is dropped).
DENSE_BUYS = """
CREATE TEMP TABLE rep_buys AS
SELECT row_number() OVER () AS id, w, tok, tok2, ts, p,
       floor(extract(epoch FROM ts) / $5::float8)::int8 AS bucket
  FROM (SELECT DISTINCT ON (w, tok, ts)
               '0x' || lpad(to_hex((random() * ($2::int - 1))::int), 40, '0') AS w,
               hash_numeric_extended((i / $3::int)::numeric, 0) AS tok,
               hash_numeric_extended((i / $3::int)::numeric, 1) AS tok2,
               timestamptz '2026-12-01' + make_interval(secs => (i % $3::int) * $4::float8) AS ts,
               round((0.40 + random() * 0.20)::numeric, 2) AS p
          FROM generate_series(0, $1::int - 1) i) x
"""


async def one(conn: asyncpg.Connection, sql: str, *args: object) -> tuple[float, int]:
    """One statement's wall time and its cells."""
    async with conn.transaction():
        wall = time.perf_counter()
        await conn.execute(sql, *args)
        wall = time.perf_counter() - wall
        n = int(await conn.fetchval("SELECT count(*) FROM rep_copy_cells"))
        await conn.execute("DROP TABLE rep_copy_cells")
    return wall, n


async def main_async(args: argparse.Namespace) -> int:
    s = ReputationSettings()
    k = args.look_back or s.copy_look_back
    window = float(args.window)
    ours = copy_sql.cells("TRUE")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (uptime's)")
    print(f"{args.buys:,} buys by {args.wallets:,} wallets in one day; window {window:.0f} s, "
          f"look-back {k}")  # fmt: skip
    async with scratch_server(args.dsn) as scratch:
        _, dsn = await scratch.create()
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"SET work_mem = '{args.work_mem}'")
            for spacing in args.spacings:
                per_token = max(1, round(86_400 / spacing))
                tokens = math.ceil(args.buys / per_token)
                await conn.execute("DROP TABLE IF EXISTS rep_buys")
                await conn.execute(DENSE_BUYS, args.buys, args.wallets, per_token, spacing, window)
                await conn.execute("ANALYZE rep_buys")
                n = int(await conn.fetchval("SELECT count(*) FROM rep_buys"))
                in_window = round(window / spacing)
                print(f"spacing {spacing:g} s: {tokens} tokens, {n:,} buys, "
                      f"≈ {in_window} buys of a token in the window before a buy")  # fmt: skip
                times: dict[str, list[float]] = {"main": [], "this tree": []}
                cells: dict[str, int] = {}
                for _ in range(args.repeat):
                    for name, sql, params in (
                        ("main", MAIN_CELLS, (window,)),
                        ("this tree", ours, (window, k)),
                    ):
                        wall, cells[name] = await one(conn, sql, *params)
                        times[name].append(wall)
                        print(f"  {name:9}: {wall:7.2f} s, {cells[name]:,} cells "
                              f"({cells[name] / n:.2f} a buy)", flush=True)  # fmt: skip
                best = {name: min(v) for name, v in times.items()}
                print(f"  main / this tree (best of {args.repeat}): "
                      f"{best['main'] / best['this tree']:.1f}x; load "
                      f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
        finally:
            await conn.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dsn", help="a maintenance DSN (default DATABASE_URL, else embedded)")
    p.add_argument("--buys", type=int, default=50_000)
    p.add_argument("--wallets", type=int, default=10_000)
    p.add_argument(
        "--spacings",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[35.0, 7.0],
        help="seconds between two buys of a token, comma-separated (default 35,7)",
    )
    p.add_argument("--window", type=int, default=ReputationSettings().copy_window_secs)
    p.add_argument("--look-back", type=int, default=0, help="default: the settings' default")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--work-mem", default=ReputationSettings().work_mem)
    args = p.parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
