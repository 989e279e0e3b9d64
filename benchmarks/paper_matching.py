"""Benchmark: what the paper exchange's matching pass costs the executor's maintenance.

    .venv/bin/python benchmarks/paper_matching.py                     # 10, 100, 1,000 orders
    .venv/bin/python benchmarks/paper_matching.py --orders 10 300 --fills-per-token 200

Every maintenance pass (``EXECUTOR_MAINTENANCE_SECS``, 2 s) reconciles the open orders, and for
paper orders that runs one matching pass (``orderflow.execution.paper_book.match``): each resting
paper order reads the maker fills of its token and complement revealed since it was accepted and
takes what it can. The benchmark fills a scratch database with ``--tokens`` tokens, each with
``--fills-per-token`` maker fills spread over the last five minutes (the orders' lives) and
``--history`` older fills, rests ``N`` paper BUYs (a limit no level reaches, so each pass reads
every level again and fills nothing: the steady state of orders waiting for depth) and times
passes: the shipped pass (four statements whatever N: the orders, their complements, every
order's levels through one LATERAL join, what earlier passes took) against the obvious one, a
round of statements per order (its levels, then what was taken of them), the first version's
shape. Printed per N: the median of ``--passes`` passes of each, per resting order, and their
ratio. Wall time on a shared machine: compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.execution import paper_book, settlement  # noqa: E402
from orderflow.execution.broker import OrderRequest  # noqa: E402

EXCHANGE = "0xe111180000d2663c0091e4f400237545b87b996b"


def _hex(n: int) -> str:
    return "0x" + secrets.token_hex(n)


async def _fill_history(
    conn: asyncpg.Connection, tokens: int, recent: int, history: int, now: datetime
) -> None:
    """Maker fills: ``recent`` per token over the last five minutes, ``history`` per token in
    the hour before (outside every order's window)."""
    rows = []
    log_index = 0
    for t in range(tokens):
        token = Decimal(10**70 + t)
        for i in range(recent + history):
            log_index += 1
            at = (
                now - timedelta(seconds=300 * (i + 1) / (recent + 1))
                if i < recent
                else now - timedelta(minutes=10 + 50 * (i - recent) / max(history, 1))
            )
            rows.append(
                (
                    137,
                    _hex(32),
                    log_index,
                    1 + log_index // 50,
                    _hex(32),
                    at,
                    EXCHANGE,
                    "V2",
                    _hex(32),
                    _hex(20),
                    _hex(20),
                    False,
                    "SELL",
                    token,
                    Decimal("0.60"),
                    Decimal(100),
                    Decimal(60),
                    Decimal(0),
                    "COLLATERAL",
                )
            )
    await conn.copy_records_to_table(
        "orderflow_trades",
        records=rows,
        columns=[
            "chain_id",
            "tx_hash",
            "log_index",
            "block_number",
            "block_hash",
            "timestamp",
            "exchange",
            "exchange_version",
            "order_hash",
            "wallet_address",
            "taker_address",
            "is_taker_aggregate",
            "side",
            "token_id",
            "price",
            "size",
            "usdc_size",
            "fee",
            "fee_asset",
        ],
    )
    await conn.execute("ANALYZE orderflow_trades")


async def _rest(conn: asyncpg.Connection, orders: int, tokens: int, now: datetime) -> list[str]:
    keys = []
    for i in range(orders):
        key = f"paper-bench-{i}"
        request = OrderRequest(
            strategy="bench",
            token_id=10**70 + i % tokens,
            side="BUY",
            price=Decimal("0.50"),  # below every level (0.60): nothing fills, all is read again
            shares=Decimal(100),
            observed_price=Decimal("0.50"),
        )
        await paper_book.accept(
            conn, key, request, now - timedelta(minutes=5), now + timedelta(minutes=5)
        )
        keys.append(key)
    return keys


async def _timed(call: Awaitable[object]) -> float:
    started = time.perf_counter()
    await call
    return time.perf_counter() - started


async def per_order_pass(conn: asyncpg.Connection, now: datetime) -> None:
    """The baseline: the same pass with one round of statements per order (nothing fills
    here, so no takings are stored)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", paper_book.MATCH_LOCK)
        for r in await conn.fetch(paper_book._LIVE, now, settlement.LATE_FILLS):
            complement = await conn.fetchval(
                "SELECT complement_token_id FROM orderflow_tokens WHERE token_id = $1",
                r["token_id"],
            )
            tokens = [t for t in (r["token_id"], complement) if t is not None]
            rows = await conn.fetch(
                paper_book._LEVELS,
                [r["order_key"]] * len(tokens),
                tokens,
                [r["accepted_at"]] * len(tokens),
                [min(now, r["closes_at"])] * len(tokens),
                r["accepted_at"],
                min(now, r["closes_at"]),
            )
            if rows:
                await conn.fetch(
                    paper_book._CONSUMED,
                    [x["tx_hash"] for x in rows],
                    [x["log_index"] for x in rows],
                )


async def measure(dsn: str, orders: int, args: argparse.Namespace) -> None:
    conn = await db.connect(dsn)
    try:
        await conn.execute("DELETE FROM orderflow_paper_matches")
        await conn.execute("DELETE FROM orderflow_paper_orders")
        now = datetime.now(UTC)
        await _rest(conn, orders, args.tokens, now)
        await paper_book.match(conn, now)  # warm
        shipped, baseline = [], []
        for _ in range(args.passes):  # alternated
            shipped.append(await _timed(paper_book.match(conn, now)))
            baseline.append(await _timed(per_order_pass(conn, now)))
    finally:
        await conn.close()
    ours, base = statistics.median(shipped), statistics.median(baseline)
    print(
        f"| {orders:,} | {ours * 1e3:.1f} | {ours / orders * 1e6:.0f} | {base * 1e3:.1f} "
        f"| {base / orders * 1e6:.0f} | x{base / ours:.1f} |"
    )


async def amain(args: argparse.Namespace) -> None:
    async with scratch_server(args.dsn) as scratch:
        dsn = await scratch.fresh()
        conn = await db.connect(dsn)
        try:
            await _fill_history(
                conn, args.tokens, args.fills_per_token, args.history, datetime.now(UTC)
            )
        finally:
            await conn.close()
        print(
            f"paper matching: {args.tokens} tokens, {args.fills_per_token} maker fills each in "
            f"the orders' five minutes, {args.history} older; {args.passes} passes per size"
        )
        print(
            "| resting orders | pass ms | µs per order | per-order statements ms "
            "| µs per order | baseline / pass |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for n in args.orders:
            await measure(dsn, n, args)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--orders", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--tokens", type=int, default=200)
    p.add_argument("--fills-per-token", type=int, default=50)
    p.add_argument("--history", type=int, default=200)
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--dsn", default=None)
    asyncio.run(amain(p.parse_args(argv)))


if __name__ == "__main__":
    main()
