"""Benchmark: the PostgreSQL backend's CPU per log of each index and trigger of orderflow_trades
on the real store path, statement by statement (issue 14; docs/benchmarks.md "Ingest: cost per
index").

    .venv/bin/python benchmarks/ingest_indexes.py --logs 100000 --runs 12
    .venv/bin/python benchmarks/ingest_indexes.py --variants "072,indexed while importing" \
        --mode import

The backend's CPU is read from ``/proc/<pid>/schedstat`` (nanoseconds) around every statement the
store sends, so each statement's share is its own: the trades insert (its statement triggers
included), the matches insert, the match links, COPY, the end-of-import fold, and the rest
(prologue, BEGIN, COMMIT). A variant is DDL applied to the migrated schema: "072" (as migrated:
the deferrable indexes left out of the import's partition and built at its end, column "build",
parallel maintenance workers off so that their CPU is the backend's), "indexed while importing"
(as before migration 072), "before 016" (main's indexes, and the store's statements as they
were), and, from that schema, one index or trigger dropped ("-tx", "-market", …) or replaced
("tx_hash", "timestamp_brin", …).

* ``--mode batch`` (default): ``--logs`` V2 logs imported into one database; then each round,
  every variant stores the next ``--batches`` batches of 5,000 logs with ``store_batch`` (bulk
  mode) and folds them, in a transaction that applies its DDL first and is rolled back; the dead
  rows are vacuumed after each round. Same rows, same table, same minute for every variant.
* ``--mode import``: a fresh database per variant and the whole import of ``--logs`` logs by
  ``ingest_file(..., workers=2, bulk=True)`` (what ``listen --from-file`` runs), fold included.

Variants run in rotation, ``--runs`` times; the table gives the median (minimum) per statement,
the load average is printed with each round. Needs a server on this machine (the private embedded
one, or ``--dsn``): its backends' CPU is read from /proc. The variants are
``ingest_index_variants.py``'s, the per-statement clock ``store_statement_clock.py``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest_index_variants import VARIANTS  # noqa: E402
from log_mix import CHAIN_ID, generate  # noqa: E402
from scratch_db import scratch_server  # noqa: E402
from store_statement_clock import StatementClock, statements_for  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import partitions, pending_sums  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.chain.store import store_batch  # noqa: E402


async def run_variant(
    dsn: str, ddl: str, path: Path, logs: int, detail: dict[str, list[float]] | None = None
) -> dict[str, float]:
    """µs of backend CPU per log, by statement label, of one import into ``dsn``; with
    ``detail``, also by statement (appended to its lists, the calls under ``"<label> calls"``)."""
    conn = await db.connect(dsn)
    try:
        # the index builds' CPU in the backend measured, not in parallel workers
        await conn.execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET max_parallel_maintenance_workers"
            " = 0', current_database()); END $$"
        )
        if ddl:
            await conn.execute(ddl)
    finally:
        await conn.close()
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        with statements_for(ddl), StatementClock(detail=detail is not None) as clock:
            report = await ingest_file(
                pool, path, chain_id=CHAIN_ID, batch_size=5000, workers=2, bulk=True
            )
        trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    finally:
        await pool.close()
    assert report.stored.dead_letters == 0 and trades > 0
    per = {k: v / logs * 1e6 for k, v in clock.secs.items()}
    if detail is not None:
        for k, v in per.items():
            detail.setdefault(k, []).append(v)
            detail.setdefault(f"{k} calls", []).append(clock.calls[k])
        per = {"other": sum(per.values())}  # the columns are not split in this mode
    per["store total"] = sum(v for k, v in per.items() if k not in ("fold", "build"))
    per["trades"] = trades
    return per


COLUMNS = (
    "trades insert",
    "matches insert",
    "links",
    "copy",
    "other",
    "store total",
    "fold",
    "build",
)


async def batch_rounds(
    conn: asyncpg.Connection, names: list[str], batches: list[list[dict[str, Any]]], runs: int
) -> dict[str, list[dict[str, float]]]:
    """Interleaved A/B on one database: each round, every variant in turn stores ``batches``
    with the real ``store_batch`` (bulk) and folds them, inside a transaction that applies the
    variant's DDL first and is rolled back at the end; the dead rows are vacuumed away after
    each round. Same rows, same table, same minute for every variant."""
    logs = sum(len(b) for b in batches)
    decoded = [decode_batch(b, CHAIN_ID) for b in batches]
    blocks = [int(log["blockNumber"], 16) for b in batches for log in b]
    await partitions.ensure(conn, min(blocks), max(blocks))
    results: defaultdict[str, list[dict[str, float]]] = defaultdict(list)
    for run in range(runs):
        order = names[run % len(names) :] + names[: run % len(names)]
        for name in order:
            tx = conn.transaction()
            await tx.start()
            try:
                if VARIANTS[name]:
                    await conn.execute(VARIANTS[name])
                with statements_for(VARIANTS[name]), StatementClock() as clock:
                    for batch in decoded:
                        await store_batch(conn, batch, chain_id=CHAIN_ID, bulk=True)
                    await pending_sums.fold(conn)
            finally:
                await tx.rollback()
            per = {k: v / logs * 1e6 for k, v in clock.secs.items()}
            per["store total"] = sum(v for k, v in per.items() if k not in ("fold", "build"))
            results[name].append(per)
        await conn.execute("VACUUM orderflow_trades, orderflow_matches, orderflow_position_sums")
        print(f"round {run + 1}/{runs}, load " + _load(), flush=True)
    return results


def _load() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _table(results: dict[str, list[dict[str, float]]], names: list[str]) -> None:
    print("| variant | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for name in names:
        cells = []
        for c in COLUMNS:
            vals = sorted(r.get(c, 0.0) for r in results[name])
            cells.append(f"{vals[len(vals) // 2]:.1f} ({vals[0]:.1f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def _detail_table(name: str, detail: dict[str, list[float]]) -> None:
    """``--detail``: each statement's backend µs per log, median (minimum), and its calls."""
    rows = []
    for label, vals in detail.items():
        if label.endswith(" calls"):
            continue
        ordered = sorted(vals)
        calls = sorted(detail[f"{label} calls"])
        rows.append((ordered[len(ordered) // 2], ordered[0], calls[len(calls) // 2], label))
    print(f"\n{name}: | statement | µs per log | calls |\n|---|---:|---:|")
    for median, low, median_calls, label in sorted(rows, reverse=True):
        print(f"| {label} | {median:.2f} ({low:.2f}) | {median_calls:.0f} |")
    total = sum(r[0] for r in rows)
    print(f"| all (sum of medians) | {total:.2f} | |")


async def main_async(args: argparse.Namespace) -> int:
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if args.detail and args.mode != "import":
        raise SystemExit("--detail needs --mode import")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}")
    extra = args.batches * 5000 if args.mode == "batch" else 0
    logs = generate(args.logs + extra + 5000, args.seed, ("V2",))
    tail, logs = logs[args.logs : args.logs + extra], logs[: args.logs]
    results: defaultdict[str, list[dict[str, float]]] = defaultdict(list)
    details: dict[str, dict[str, list[float]]] = {n: {} for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.jsonl"
        path.write_text("".join(json.dumps(log) + "\n" for log in logs))
        async with scratch_server(args.dsn, args.data_dir) as scratch:
            if args.mode == "batch":
                dsn = await scratch.fresh()
                await run_variant(dsn, "", path, len(logs))  # the table the batches go to
                conn = await db.connect(dsn)
                try:
                    await conn.execute("VACUUM ANALYZE")
                    batches = [tail[i : i + 5000] for i in range(0, extra, 5000)]
                    print(
                        f"{len(logs):,} V2 logs stored; {len(tail):,} more stored and rolled "
                        f"back per variant and round, in batches of 5,000; load {_load()}",
                        flush=True,
                    )
                    results.update(await batch_rounds(conn, names, batches, args.runs))
                finally:
                    await conn.close()
            else:
                print(f"{len(logs):,} V2 logs, a fresh database per variant", flush=True)
                for run in range(args.runs):
                    for name in names if run % 2 == 0 else names[::-1]:
                        per = await run_variant(
                            await scratch.fresh(),
                            VARIANTS[name],
                            path,
                            len(logs),
                            details[name] if args.detail else None,
                        )
                        results[name].append(per)
                        print(
                            f"run {run + 1} {name:<16} "
                            + " ".join(f"{c} {per.get(c, 0):.1f}" for c in COLUMNS)
                            + f" | load {_load()}",
                            flush=True,
                        )
    print(f"\nbackend µs per log, median (minimum) of {args.runs} runs ({args.mode} mode)")
    if args.detail:
        for name in names:
            _detail_table(name, details[name])
    else:
        _table(results, names)
    print("load average " + _load())
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--logs", type=int, default=50_000, help="V2 logs imported first / per import (50,000)"
    )
    p.add_argument("--runs", type=int, default=2, help="rotations over the variants (2)")
    p.add_argument(
        "--mode",
        choices=("batch", "import"),
        default="batch",
        help="batch: interleaved rolled-back batches on one database (default); import: a "
        "whole import into a fresh database per variant",
    )
    p.add_argument(
        "--batches", type=int, default=2, help="batch mode: 5,000-log batches per variant (2)"
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--detail",
        action="store_true",
        help="import mode: every statement's backend CPU apart (by its constant's name), "
        "instead of the columns",
    )
    p.add_argument("--variants", help=f"comma-separated subset of: {', '.join(VARIANTS)}")
    p.add_argument(
        "--dsn", help="maintenance database URL of a server on this machine (default: embedded)"
    )
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
