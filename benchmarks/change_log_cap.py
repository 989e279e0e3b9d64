"""Measurement: the bound of the reputation run's change logs at a realistic size (migration 057).

    .venv/bin/python benchmarks/change_log_cap.py       # 10 M logged keys (the default bound)
    .venv/bin/python benchmarks/change_log_cap.py --rows 2000000 --keys 0

A fresh database's log of changed position sums (migration 030) gets ``--rows`` rows of 40,000
wallets x 300,000 tokens, as the listener appends them. Then the cap (``pending_sums.cap_changes``,
as the listener calls it) runs twice: with a bound of ``--rows`` (the log within it: the check
alone) and of half as many (past it: the drop). Meanwhile a writer on a connection of its own
appends a key every 10 ms, as the store's trigger does for each batch, and its latencies are
reported. Before migration 057 the listener awaited the cap in its head handler, so its stores
stalled for the cap's whole duration; since, the cap runs in a task of its own and the head
handler waits for none of it: what the store pays is the writer's latency. Run from a checkout
of an earlier commit for the figures before (with ``--keys 0``). Last, ``--keys`` position sums
are stored and the run after an overflow's scan for the keys left without fills is timed.
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # scratch_db

import asyncpg  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow.chain.pending_sums import cap_changes  # noqa: E402
from orderflow.reputation.changes import DROP_EMPTY_KEYS  # noqa: E402

FILL = """
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT '0x' || lpad(to_hex(i % 40000), 40, '0'), (i % 300000)::numeric
  FROM generate_series($1::bigint, $2::bigint) AS i
"""
# Position sums: one key in 1,000 left without fills (by a reorg).
SUMS = """
INSERT INTO orderflow_position_sums
SELECT '0x' || lpad(to_hex(i % 40000), 40, '0'), i, NULL, NULL, CASE WHEN i % 1000 = 0 THEN 0
       ELSE 1 END, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, now(), now(), now()
  FROM generate_series($1::bigint, $2::bigint) AS i
"""
APPEND = """INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
            VALUES ('0x' || lpad('1', 40, '0'), 1)"""


async def _writer(dsn: str, stop: asyncio.Event, latencies: list[float]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await conn.execute(APPEND)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    finally:
        await conn.close()


async def _timed_cap(dsn: str, max_rows: int) -> dict[str, object]:
    stop = asyncio.Event()
    latencies: list[float] = []
    writer = asyncio.create_task(_writer(dsn, stop, latencies))
    await asyncio.sleep(0.2)
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        dropped = await cap_changes(conn, max_rows)
        secs = time.perf_counter() - started
    finally:
        await conn.close()
    await asyncio.sleep(0.2)
    stop.set()
    await writer
    latencies.sort()
    return {
        "max_rows": max_rows,
        "dropped": dropped,
        "cap_secs": round(secs, 3),
        "writer_appends": len(latencies),
        "writer_p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "writer_max_ms": round(latencies[-1] * 1000, 2),
    }


async def _empty_keys(dsn: str, keys: int) -> dict[str, object]:
    """What the run after an overflow adds to its full recompute: the scan of the sums for the
    keys left without fills (``changes.DROP_EMPTY_KEYS``)."""
    conn = await asyncpg.connect(dsn)
    try:
        step = 1_000_000
        for lo in range(1, keys + 1, step):
            await conn.execute(SUMS, lo, min(lo + step - 1, keys))
        await conn.execute("VACUUM ANALYZE orderflow_position_sums")
        started = time.perf_counter()
        status = await conn.execute(DROP_EMPTY_KEYS)
        return {
            "keys": keys,
            "dropped": int(status.split()[-1]),
            "secs": round(time.perf_counter() - started, 3),
        }
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> None:
    async with scratch_server(args.dsn) as scratch:
        dsn = await scratch.fresh()
        conn = await asyncpg.connect(dsn)
        try:
            step = 1_000_000
            for lo in range(1, args.rows + 1, step):
                await conn.execute(FILL, lo, min(lo + step - 1, args.rows))
            await conn.execute("VACUUM ANALYZE orderflow_position_sums_changes")
            size = await conn.fetchval(
                "SELECT pg_size_pretty(pg_relation_size('orderflow_position_sums_changes'))"
            )
        finally:
            await conn.close()
        report: dict[str, object] = {"rows": args.rows, "log_size": size}
        # (the writer's appends stay far below the margin)
        report["check"] = await _timed_cap(dsn, args.rows + 10_000)
        report["drop"] = await _timed_cap(dsn, args.rows // 2)
        if args.keys:
            report["empty_keys"] = await _empty_keys(dsn, args.keys)
        print(json.dumps(report, indent=2))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--keys", type=int, default=5_000_000, help="position sums (0: skip)")
    p.add_argument("--dsn", default=None, help="maintenance DSN (default: a private server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
