"""Benchmark: ``orderflow import`` of a V1 OrderFilled dump, per format, against a row-by-row load.

    .venv/bin/python benchmarks/history_import.py                  # 200,000 fills
    .venv/bin/python benchmarks/history_import.py --rows 20000 --baseline-rows 2000

Generates N OrderFilled rows in the layout of the public Parquet dumps (snake_case,
``transaction_hash`` without 0x, ``contract`` names, amounts as decimal strings, no block hash)
plus the blocks file that supplies their hashes, writes the same rows as Parquet, gzip'd CSV and
gzip'd JSON lines, and in the same run times

* ours: ``import_file`` of each (rows parsed column-wise into the listener's events, the
  listener's ``store_batch``, one transaction per ``--batch-size`` rows, reading one batch ahead
  in a worker thread) into a fresh migrated database whose blocks were imported first;
* with ``--workers 1,2``: the same import with that many parsing processes (``workers=``),
  their CPU counted apart (children of the benchmark, reaped when the import ends);
* the reference, unless ``--no-reference``: the same import with ``via_raw_logs=True`` — every
  row re-encoded into its raw log and read back by the listener's decoder, the path before the
  shortcut — and the same-run ratio of the two;
* the obvious baseline on the first ``--baseline-rows`` rows of the CSV: ``csv.DictReader``,
  derive the trade row in Python, one ``INSERT … ON CONFLICT DO NOTHING`` per row in
  autocommit (what a straightforward loader does); its rate is extrapolated.

Every import runs in bulk mode, as ``orderflow import`` does (``--no-bulk``: batch by batch;
``--compare-bulk``: also each format batch by batch in process, with the same-run ratio).

Prints the machine's load average before and after: the machine these figures come from is
shared, so they are lower bounds of what an idle machine does. Uses ``--dsn`` / ``DATABASE_URL``
(a maintenance database where it may create and drop ``orderflow_bench_*``) or else a private
embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import io
import json
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu

from proc_cpu import cpu_of, pool_backends  # noqa: E402
from scratch_db import Scratch, scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain import partitions  # noqa: E402
from orderflow.chain.tokens import condition_id, ctf_position_ids  # noqa: E402
from orderflow.history import import_file  # noqa: E402
from orderflow.progress import Progress  # noqa: E402

T0 = 1_700_000_000
FIRST_BLOCK = 50_000_000
CONTRACTS = [("CTF_EXCHANGE", c.V1_CTF_EXCHANGE, False), ("NEG_RISK_CTF_EXCHANGE",
             c.V1_NEG_RISK_CTF_EXCHANGE, True)]  # fmt: skip


def _hex(rng: random.Random, nbytes: int) -> str:
    return f"{rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


def generate(n: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(fill rows, block rows): N V1 fills, 4-12 per block, in chain order."""
    rng = random.Random(seed)
    tokens: dict[bool, list[int]] = {False: [], True: []}
    for i in range(max(4, n // 4000)):
        neg = i % 3 == 1
        oracle = c.NEG_RISK_ADAPTER if neg else "0x" + "0a" * 20
        cid = condition_id(oracle, "0x" + _hex(rng, 32), 2)
        collateral_token = c.NEG_RISK_WRAPPED_COLLATERAL if neg else c.USDC_E
        tokens[neg].extend(ctf_position_ids(cid, 2, collateral_token))
    wallets = ["0x" + _hex(rng, 20).upper() for _ in range(max(50, n // 25))]
    fills: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    block = FIRST_BLOCK
    while len(fills) < n:
        block += 1
        ts = T0 + 2 * (block - FIRST_BLOCK)
        blocks.append({"block_number": block, "block_hash": "0x" + _hex(rng, 32), "timestamp": ts})
        for log_index in range(rng.randint(4, 12)):
            name, address, neg = rng.choice(CONTRACTS)
            token = rng.choice(tokens[neg])
            shares = rng.randint(1, 5000) * 10_000
            collateral = shares * rng.randint(1, 99) // 100
            buy = rng.random() < 0.5
            taker = address if rng.random() < 0.3 else rng.choice(wallets)
            fills.append(
                {
                    "timestamp": ts,
                    "block_number": block,
                    "transaction_hash": _hex(rng, 32),
                    "log_index": log_index,
                    "contract": name,
                    "order_hash": _hex(rng, 32),
                    "maker": rng.choice(wallets),
                    "taker": taker,
                    "maker_asset_id": "0" if buy else str(token),
                    "taker_asset_id": str(token) if buy else "0",
                    "maker_amount_filled": str(collateral if buy else shares),
                    "taker_amount_filled": str(shares if buy else collateral),
                    "fee": "0",
                }
            )
    return fills[:n], blocks


def write_all(
    tmp: Path, fills: list[dict[str, Any]], blocks: list[dict[str, Any]]
) -> dict[str, Path]:
    paths = {
        "parquet": tmp / "orderfilled.parquet",
        "csv.gz": tmp / "orderfilled.csv.gz",
        "jsonl.gz": tmp / "orderfilled.jsonl.gz",
    }
    pq.write_table(pa.Table.from_pylist(fills), paths["parquet"], row_group_size=100_000)
    with gzip.open(paths["csv.gz"], "wt", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(fills[0]))
        w.writeheader()
        w.writerows(fills)
    with gzip.open(paths["jsonl.gz"], "wt") as fh:
        for row in fills:
            fh.write(json.dumps(row) + "\n")
    pq.write_table(pa.Table.from_pylist(blocks), tmp / "blocks.parquet")
    return paths


# --- the baseline: one INSERT per row ----------------------------------------------------------

BASELINE_INSERT = """
INSERT INTO orderflow_trades (
    chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
    exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate, side,
    token_id, price, size, usdc_size, fee, fee_asset)
VALUES (137, $1, $2, $3, $4, to_timestamp($5), $6, 'V1', $7, $8, $9, $10, $11, $12::numeric,
        $13, $14, $15, $16, $17)
ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
"""
NAMES = {name: address for name, address, _ in CONTRACTS}
UNIT = Decimal(1_000_000)


async def run_baseline(dsn: str, path: Path, hashes: dict[int, str], limit: int) -> float:
    conn = await db.connect(dsn)
    try:
        if hashes:  # the partitions of orderflow_trades (migration 012), outside the timing
            await partitions.ensure(conn, min(hashes), max(hashes))
        started = time.perf_counter()
        with gzip.open(path, "rt", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh)):
                if i >= limit:
                    break
                buy = row["maker_asset_id"] == "0"
                maker_amt, taker_amt = (
                    int(row["maker_amount_filled"]),
                    int(row["taker_amount_filled"]),
                )
                shares, collateral = (taker_amt, maker_amt) if buy else (maker_amt, taker_amt)
                exchange = NAMES[row["contract"]]
                taker = row["taker"].lower()
                block = int(row["block_number"])
                await conn.execute(
                    BASELINE_INSERT,
                    "0x" + row["transaction_hash"],
                    int(row["log_index"]),
                    block,
                    hashes[block],
                    int(row["timestamp"]),
                    exchange,
                    "0x" + row["order_hash"],
                    row["maker"].lower(),
                    taker,
                    taker == exchange,
                    "BUY" if buy else "SELL",
                    row["taker_asset_id"] if buy else row["maker_asset_id"],
                    (Decimal(collateral) / shares).quantize(Decimal("1E-10")) if shares else 0,
                    Decimal(shares) / UNIT,
                    Decimal(collateral) / UNIT,
                    Decimal(int(row["fee"])) / UNIT,
                    "SHARES" if buy else "COLLATERAL",
                )
        return time.perf_counter() - started
    finally:
        await conn.close()


# --- harness -----------------------------------------------------------------------------------


async def run_ours(
    args: argparse.Namespace,
    scratch: Scratch,
    tmp: Path,
    path: Path,
    expected: int,
    via_raw_logs: bool,
    workers: int,
    bulk: bool = True,
) -> tuple[float, float, str]:
    """(rows/s, blocks file rows/s, a line of figures) of one import into a fresh database."""
    dsn = await scratch.fresh()
    # Two connections, as `orderflow import` has (its pool is larger): the batches on one, the
    # deferred sums folded beside them on the other (migration 080; a pool of one folds between
    # the batches, the path this benchmark took until 6 Dec 2026). Kept open for the whole run,
    # so their backends' CPU seconds (both summed) say what an idle machine would do.
    pool = await db.create_pool(dsn, min_size=2, max_size=2, max_inactive_connection_lifetime=0)
    try:
        blocks_report = await import_file(
            pool, tmp / "blocks.parquet", chain_id=137, batch_size=args.batch_size,
            progress=_quiet(tmp / "blocks.parquet"),
        )  # fmt: skip
        backends = await pool_backends(pool) if scratch.local else []
        server0, client0, children0 = cpu_of(backends), time.process_time(), _children()
        report = await import_file(
            pool, path, chain_id=137, batch_size=args.batch_size, progress=_quiet(path),
            via_raw_logs=via_raw_logs, workers=workers, bulk=bulk,
        )  # fmt: skip
        server1, client_cpu = cpu_of(backends), time.process_time() - client0
        workers_cpu = _children() - children0  # the pool's processes, reaped when it shut down
    finally:
        await pool.close()
    assert report.stored.trades == expected, report.summary()
    assert report.dead_letters == 0
    cpu = f"; python {client_cpu / expected * 1e6:.1f} us/row"
    if workers:
        cpu += f" + workers {workers_cpu / expected * 1e6:.1f} us/row"
    if server0 is not None and server1 is not None:
        server_cpu = server1 - server0
        bound = expected / max(server_cpu, client_cpu, workers_cpu / workers if workers else 0)
        cpu += (
            f", postgres (both connections) {server_cpu / expected * 1e6:.1f} us/row -> "
            f"{bound:,.0f} rows/s "
            "with a core each"
        )
    size = path.stat().st_size / 1e6  # noqa: ASYNC240 (a benchmark's one stat)
    line = (
        f"{report.rows_per_sec:>10,.0f} rows/s  ({report.elapsed_secs:.1f} s, {size:.1f} MB{cpu})"
    )
    return report.rows_per_sec, blocks_report.rows_per_sec, line


def _children() -> float:
    """CPU seconds of this process's reaped children (the import's worker processes)."""
    t = os.times()
    return t.children_user + t.children_system


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _quiet(path: Path) -> Progress:
    """A progress that neither draws nor logs (the benchmark prints its own figures)."""
    unit = "rows" if path.suffix == ".parquet" else "bytes"
    return Progress(f"import {path.name}", unit=unit, total=None, count_unit="rows",
                    stream=io.StringIO(), log_interval=float("inf"))  # fmt: skip


async def main_async(args: argparse.Namespace) -> int:
    print(f"before: {_load()}", flush=True)
    print(f"generating {args.rows:,} V1 OrderFilled rows …", flush=True)
    fills, blocks = generate(args.rows, args.seed)
    results: list[tuple[str, float, float]] = []
    async with scratch_server(args.dsn) as scratch:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_all(Path(tmp), fills, blocks)
            for fmt, path in paths.items():
                rates: dict[tuple[bool, int], float] = {}
                runs = [(False, 0), *((False, w) for w in args.workers if w)]
                for via, workers in [*runs, *([(True, 0)] if args.reference else [])]:
                    rate, blocks_rate, line = await run_ours(
                        args, scratch, Path(tmp), path, len(fills), via, workers,
                        bulk=not args.no_bulk,
                    )  # fmt: skip
                    rates[via, workers] = rate
                    name = (
                        f"{fmt} (raw-log round trip)"
                        if via
                        else f"{fmt} ({workers} workers)"
                        if workers
                        else fmt
                    )
                    print(f"{name:<30} {line}", flush=True)
                results.append((fmt, rates[False, 0], blocks_rate))
                for (via, workers), rate in rates.items():
                    if via or not workers:
                        continue
                    ratio = rate / rates[False, 0]
                    print(f"ratio {fmt:<9} {workers} workers / in process x{ratio:.2f}")
                if (True, 0) in rates:
                    ratio = rates[False, 0] / rates[True, 0]
                    print(f"ratio {fmt:<9} shortcut / round trip x{ratio:.2f}")
                if args.compare_bulk and not args.no_bulk:
                    rate, _, line = await run_ours(
                        args, scratch, Path(tmp), path, len(fills), False, 0,
                        bulk=False,
                    )  # fmt: skip
                    print(f"{fmt + ' (batch by batch)':<30} {line}", flush=True)
                    print(f"ratio {fmt:<9} bulk / batch by batch x{rates[False, 0] / rate:.2f}")
            dsn = await scratch.fresh()
            hashes = {b["block_number"]: b["block_hash"] for b in blocks}
            limit = min(args.baseline_rows, len(fills))
            base_secs = await run_baseline(dsn, paths["csv.gz"], hashes, limit)
    base_rate = limit / base_secs
    print(
        f"baseline  {base_rate:>10,.0f} rows/s  (csv.DictReader + one INSERT per row, "
        f"{limit:,} rows in {base_secs:.1f} s, extrapolated)"
    )
    for fmt, rate, _ in results:
        print(f"ratio {fmt:<9} x{rate / base_rate:.1f}")
    print(f"after: {_load()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000, help="fills to generate (200,000)")
    p.add_argument(
        "--baseline-rows", type=int, default=5_000, help="rows the baseline loads (5,000)"
    )
    p.add_argument("--batch-size", type=int, default=10_000, help="rows per transaction (10,000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--workers",
        type=lambda v: [int(w) for w in v.split(",")],
        default=[0],
        help="also import with these numbers of parsing processes, e.g. 1,2 (default: only 0)",
    )
    p.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the same-run import through the raw-log round trip (the pre-shortcut path)",
    )
    p.add_argument(
        "--no-bulk",
        action="store_true",
        help="import batch by batch (the per-(wallet, token) sums kept per batch, not deferred)",
    )
    p.add_argument(
        "--compare-bulk",
        action="store_true",
        help="also import each format batch by batch (in process) and print the same-run ratio",
    )
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
