"""Benchmark: latency from a committed trade to its signal row, NOTIFY vs the seed's 3 s polling.

    .venv/bin/python benchmarks/signal_latency.py                    # 300 trades per mode
    .venv/bin/python benchmarks/signal_latency.py --trades 50 --interval-ms 50

In one run, on a fresh database, an in-process executor (the real ``Executor``, paper mode) trades
one strategy while a separate connection plays the listener and commits whale fills one at a time,
``--interval-ms`` apart, each in its own transaction (so each fires the NOTIFY trigger). Twice:

* ``notify``: LISTEN/NOTIFY as shipped (polling fallback every 3 s);
* ``poll``: the seed's design, no notifications (trigger disabled), a poll every
  ``--baseline-poll-secs`` (3 s).

Latency = the signal row's ``created_at`` (database clock) minus the moment the trade's commit was
acknowledged to the feeder (host clock; the database runs on the same host). Measuring from the
row's ``inserted_at`` instead would add the commit's own WAL flush, which on a disk shared with
other busy databases occasionally takes hundreds of milliseconds before the executor can even
see the row. Every trade creates a signal (each is in its
own token; once ``max_open_positions`` is reached they are SKIPPED, which is a signal row too),
and accepted ones are filled on paper before the next trade is evaluated, as in production.

Uses ``--dsn`` / ``DATABASE_URL`` (a maintenance database on a server where it may create and drop
``orderflow_bench_*``) or else a private embedded PostgreSQL under ``--data-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orderflow import db  # noqa: E402
from orderflow.execution.engine import Executor  # noqa: E402
from orderflow.execution.paper import PaperBroker  # noqa: E402
from orderflow.execution.settings import ExecutorSettings  # noqa: E402
from orderflow.migrate import migrate  # noqa: E402
from orderflow.strategy.settings import StrategySettings  # noqa: E402

WHALE = "0x" + "a1" * 20
_LOG_INDEX = itertools.count()
MARKET = "0x" + "c1" * 32

INSERT = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
    exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
    side, token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset)
VALUES (137, $1, $6, 1, $1, $2, '0xe111180000d2663c0091e4f400237545b87b996b', 'V2', $1, $3,
        '0xe111180000d2663c0091e4f400237545b87b996b', true, 'BUY', $4, $5, 0, 0.5, 1000, 500, 0,
        'COLLATERAL')
"""


def _with_database(dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{name}"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _prepare(dsn: str) -> None:
    conn = await db.connect(dsn)
    try:
        await migrate(conn)
        settings = StrategySettings(max_open_positions=20, min_trigger_usd=0.0)
        await conn.execute(
            "INSERT INTO orderflow_strategies (name, settings) VALUES ('bench', $1)",
            settings.model_dump(mode="json"),
        )
        await conn.execute(
            "INSERT INTO orderflow_wallet_stats (wallet_address, reputation_score, edge, edge_se,"
            " resolved_buys) VALUES ($1, 9.0, 0.1, 0.01, 500)",
            WHALE,
        )
    finally:
        await conn.close()


async def run_mode(
    dsn: str, mode: str, trades: int, interval: float, poll_secs: float
) -> list[float]:
    """Latencies in milliseconds for one mode."""
    pool = await db.create_pool(dsn, min_size=2, max_size=6)
    feeder = await db.connect(dsn)
    try:
        await feeder.execute(
            "ALTER TABLE orderflow_trades "
            + ("ENABLE" if mode == "notify" else "DISABLE")
            + " TRIGGER orderflow_trades_notify"
        )
        settings = ExecutorSettings(
            DATABASE_URL=None,
            EXECUTOR_POLL_INTERVAL_SECS=poll_secs if mode == "poll" else 3.0,
            EXECUTOR_LATE_COMMIT_SECS=0.0,
            EXECUTOR_MAINTENANCE_SECS=60.0,
            EXECUTOR_HEARTBEAT_SECS=60.0,
            EXECUTOR_INSTANCE_ID=f"bench-{mode}",
        )
        executor = Executor(pool, dsn, settings, {"paper": PaperBroker(pool)})
        task = asyncio.create_task(executor.run())
        try:
            await asyncio.wait_for(executor.leading.wait(), 30)
            first = int(await feeder.fetchval("SELECT COALESCE(max(id), 0) FROM orderflow_trades"))
            committed: dict[str, float] = {}
            for _ in range(trades):
                tx_hash = "0x" + secrets.token_hex(32)
                await feeder.execute(
                    INSERT,
                    tx_hash,
                    datetime.now(UTC),
                    WHALE,
                    Decimal(secrets.randbits(250)),
                    MARKET,
                    next(_LOG_INDEX),  # (block, log index) is the trade's identity
                )
                committed[tx_hash] = time.time()  # the commit is acknowledged
                await asyncio.sleep(interval)
            deadline = asyncio.get_running_loop().time() + poll_secs + 30
            while True:
                done = await feeder.fetchval(
                    "SELECT count(*) FROM orderflow_signals s JOIN orderflow_trades t"
                    " ON t.tx_hash = s.tx_hash AND t.log_index = s.log_index WHERE t.id > $1",
                    first,
                )
                if done >= trades or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        rows = await feeder.fetch(
            "SELECT t.tx_hash, EXTRACT(EPOCH FROM s.created_at) AS signal_at,"
            " EXTRACT(EPOCH FROM s.created_at - t.inserted_at) * 1000 AS from_insert_ms"
            " FROM orderflow_signals s JOIN orderflow_trades t"
            " ON t.tx_hash = s.tx_hash AND t.log_index = s.log_index WHERE t.id > $1"
            " ORDER BY t.id",
            first,
        )
        # Commit acknowledged (host clock) -> signal row written (database clock, same host).
        return [(float(r["signal_at"]) - committed[r["tx_hash"]]) * 1000 for r in rows]
    finally:
        await feeder.close()
        await pool.close()


def report(name: str, ms: list[float]) -> dict[str, float]:
    figures = {
        "n": float(len(ms)),
        "p50": percentile(ms, 0.50),
        "p90": percentile(ms, 0.90),
        "p99": percentile(ms, 0.99),
        "max": max(ms) if ms else float("nan"),
        "mean": statistics.fmean(ms) if ms else float("nan"),
    }
    print(
        f"{name:<22} n={int(figures['n']):>5}  p50={figures['p50']:9.1f} ms  "
        f"p90={figures['p90']:9.1f} ms  p99={figures['p99']:9.1f} ms  max={figures['max']:9.1f} ms"
    )
    return figures


async def amain(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    admin_dsn = args.dsn or os.environ.get("DATABASE_URL")
    tmp: tempfile.TemporaryDirectory[str] | None = None
    server = None
    if not admin_dsn:
        import pgserver

        tmp = tempfile.TemporaryDirectory(dir=args.data_dir)
        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(Path(tmp.name) / "pgdata", cleanup_mode="stop")  # type: ignore[attr-defined]
        admin_dsn = str(server.get_uri("postgres"))
    name = f"orderflow_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = _with_database(admin_dsn, name)
    try:
        await _prepare(dsn)
        interval = args.interval_ms / 1000
        print(
            f"signal latency: {args.trades} trades per mode, one every {args.interval_ms} ms, "
            f"baseline poll every {args.baseline_poll_secs} s"
        )
        notify = report("LISTEN/NOTIFY", await run_mode(dsn, "notify", args.trades, interval, 3.0))
        poll = report(
            f"polling {args.baseline_poll_secs:g} s (seed)",
            await run_mode(dsn, "poll", args.trades, interval, args.baseline_poll_secs),
        )
        for q in ("p50", "p99"):
            print(f"{q}: polling / notify = {poll[q] / notify[q]:.0f}x")
        print(f"target p99 < 50 ms: {'met' if notify['p99'] < 50 else 'NOT met'}")
        return {"notify": notify, "poll": poll}
    finally:
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if server is not None:
            server.cleanup()
        if tmp is not None:
            tmp.cleanup()


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=300, help="trades per mode")
    parser.add_argument(
        "--interval-ms", type=float, default=50.0, help="gap between trades (50: ~1.7M a day)"
    )
    parser.add_argument("--baseline-poll-secs", type=float, default=3.0, help="seed's poll")
    parser.add_argument("--dsn", help="maintenance DSN (default DATABASE_URL, else embedded)")
    parser.add_argument("--data-dir", default=None, help="where the embedded server lives")
    args = parser.parse_args(argv)
    return asyncio.run(amain(args))


if __name__ == "__main__":
    main()
