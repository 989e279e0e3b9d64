"""Measurement: the readers' statements with and without their block bounds (migration 018).

    .venv/bin/python benchmarks/pruning.py                       # 40 partitions, 5,000 fills each
    .venv/bin/python benchmarks/pruning.py --partitions 12 --fills 500 --runs 200

A fresh database gets ``--partitions`` months of ``orderflow_trades`` (the store's partitions,
``--fills`` fills each, 500 wallets, 200 tokens, stamped in block order), then each reader's own
statement (imported from its module) runs ``--runs`` times as a prepared statement with a generic
plan, once as shipped and once with its bounds made TRUE (``pruning.without_bounds``: the
statement before migration 018). Reported per statement: the backend's CPU per run from /proc
(load-independent) and the ratio, same run, and the buffers (8 kB pages) one run touches, from
EXPLAIN (ANALYZE, BUFFERS): on a table larger than memory, each page of a partition not in the
cache is a read. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu

from proc_cpu import cpu_seconds  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow.backtest import history  # noqa: E402
from orderflow.chain import partitions, pruning  # noqa: E402
from orderflow.reputation import wallet_sql  # noqa: E402
from orderflow.signals import market_queries as signal_markets  # noqa: E402
from orderflow.signals import queries as signals  # noqa: E402

SPAN = 1_296_000
FIRST = 50 * SPAN
T0 = datetime(2025, 1, 1, tzinfo=UTC)
MONTH = timedelta(days=30)

FILL = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
    timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
    is_taker_aggregate, side, token_id, price, size, usdc_size, fee_asset)
SELECT 137, '0x' || lpad(to_hex(i), 64, '0'), 0, $1::bigint + (i - $2) * ($4::bigint / $3),
       '0x' || lpad(to_hex(i), 64, 'b'), $5::timestamptz + (i - $2) * ($6::interval / $3),
       '0x' || repeat('e1', 20), 'V2', '0x' || lpad(to_hex(i), 64, 'c'),
       '0x' || lpad(to_hex(i % 500), 40, '0'), '0x' || repeat('e1', 20), i % 2 = 0,
       CASE WHEN i % 3 = 0 THEN 'SELL' ELSE 'BUY' END, 1 + i % 200, 0.5, 10, 5, 'COLLATERAL'
  FROM generate_series($2::int, $2::int + $3::int - 1) AS i
"""


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def _cost(conn: asyncpg.Connection, pid: int, query: str, args: tuple[object, ...],
                runs: int) -> float:  # fmt: skip
    """Backend CPU µs per run of ``query`` as a prepared statement (generic plan)."""
    stmt = await conn.prepare(query)
    for _ in range(5):
        await stmt.fetch(*args)
    before = cpu_seconds(pid)
    for _ in range(runs):
        await stmt.fetch(*args)
    return (cpu_seconds(pid) - before) / runs * 1e6


async def _pages(conn: asyncpg.Connection, query: str, args: tuple[object, ...]) -> int:
    """Buffers (shared, hit or read) one run of ``query`` touches, subqueries included (the
    second run: the first one's catalog look-ups are cached by then)."""
    for _ in range(2):
        plan = json.loads(
            await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {query}", *args)
        )[0]["Plan"]
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


async def measure(dsn: str, months: int, fills: int, runs: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await partitions.ensure(conn, FIRST, FIRST + months * SPAN - 1)
        for m in range(months):
            await conn.execute(FILL, FIRST + m * SPAN, m * fills, fills, SPAN, T0 + m * MONTH,
                               MONTH)  # fmt: skip
        await conn.execute("ANALYZE orderflow_trades")
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        top = await conn.fetchval("SELECT max(id) FROM orderflow_trades")
        now = T0 + months * MONTH
        recent = [now - timedelta(minutes=5 * k) for k in range(10)]
        cases: list[tuple[str, str, tuple[object, ...]]] = [
            ("executor: new trades after its cursor", signals._NEW_TRADES, (top - 50, 100)),
            ("backtest: one day of trades", history._TRADES, (now - timedelta(days=2),
                                                              now - timedelta(days=1))),
            ("decision: panic-sell window of 10 trades", signal_markets._MARKETS, (
                list(range(10)), [Decimal(1 + k) for k in range(10)], [None] * 10, recent,
                3600.0, ["0x" + "0" * 37 + f"{k:03d}" for k in range(10)], [137] * 10,
                [FIRST + months * SPAN - 1 - k for k in range(10)], [0] * 10, [None] * 10)),
            ("decision: quotes of 10 trades", signal_markets._QUOTE_FILLS, (
                list(range(10)), [Decimal(1 + k) for k in range(10)], recent, 1800.0, 200)),
            ("--as-of: a wallet's fills, cut-off in month 2", wallet_sql.WALLET_FILLS,
             (T0 + MONTH + timedelta(days=15), "0x" + "0" * 37 + "007")),
            ("--as-of: every wallet, cut-off at 1/4", wallet_sql.ALL_WALLETS,
             (T0 + months * MONTH / 4,)),
        ]  # fmt: skip
        print(f"{months} partitions x {fills:,} fills, {runs} runs each, generic plans; {_load()}")
        for name, query, args in cases:
            bounded = await _cost(conn, pid, query, args, runs)
            unbounded = await _cost(conn, pid, pruning.without_bounds(query), args, runs)
            pages = await _pages(conn, query, args)
            pages_before = await _pages(conn, pruning.without_bounds(query), args)
            ratio = unbounded / bounded if bounded else float("nan")
            print(f"{name:<42} bounded {bounded:7.1f} us/run {pages:5d} pages   unbounded"
                  f" {unbounded:7.1f} us/run {pages_before:5d} pages   CPU x{ratio:.2f}",
                  flush=True)  # fmt: skip
        print(f"after: {_load()}")
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> None:
    async with scratch_server(args.dsn) as scratch:
        await measure(await scratch.fresh(), args.partitions, args.fills, args.runs)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--partitions", type=int, default=40, help="months of trades (default 40)")
    p.add_argument("--fills", type=int, default=5000, help="fills per month (default 5,000)")
    p.add_argument("--runs", type=int, default=1000, help="runs per statement (default 1,000)")
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
