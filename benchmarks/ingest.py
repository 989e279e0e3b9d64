"""Benchmark: chain ingest (decode + store) against web3.py's process_log + one INSERT per row.

    .venv/bin/python benchmarks/ingest.py                 # 200,000 logs
    .venv/bin/python benchmarks/ingest.py --logs 20000 --baseline-logs 2000

Generates N raw logs with ``orderflow.chain.encode`` (``log_mix.generate``) — a realistic mix of
matches (1-3 maker fills, the taker's aggregate fill, OrdersMatched) and direct fills on all five
exchanges, plus the ConditionPreparation of every market and some resolutions — then, in the
same run, times

* ours: ``ingest_logs`` — ``decode_batch`` + ``store_batch`` (COPY, one transaction per batch,
  decoding one batch ahead in a worker thread) into a fresh migrated database;
* ours from a file: ``ingest_file`` on the same logs written as JSON lines with ``--workers``
  decoding processes (adds JSON parsing: what ``orderflow listen --from-file`` does), with the
  CPU per log of the PostgreSQL backend, the decoding processes and the writing process, and the
  rate those allow on two idle cores;
* the COPY ceiling (``copy_ceiling.py``): the stored trade rows COPYed plainly into a table with
  its primary key, the reference issue 14 states its target against, and each rate as a share;
* the baseline (``ingest_baseline.py``) on the first ``--baseline-logs`` OrderFilled logs:
  ``contract.events.OrderFilled().process_log(log)`` with the exchange's ABI, then one
  ``INSERT … ON CONFLICT DO NOTHING`` per row in autocommit, as a straightforward listener
  would; its rate is extrapolated.

Both store in bulk mode (``--no-bulk``: batch by batch), as ``listen --from-file`` does by
default: the per-(wallet, token) sums are added once at the end of the import (its time and
backend CPU included), and the deferrable indexes left out of the partition built (migration
072; in the in-process runs without parallel workers, so that their CPU is the backend's).

Also prints decode-only rates (no database) for both, and the CPU per log of what a decoding
process does (parse, decode, render COPY text) on the fast path and on the general one. Uses
``--dsn`` / ``DATABASE_URL`` (a maintenance database on a server where it may create and drop
``orderflow_bench_*``) or else a private embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, log_mix, ingest_baseline

from copy_ceiling import copy_ceiling  # noqa: E402
from ingest_baseline import baseline_contracts, run_baseline  # noqa: E402
from log_mix import CHAIN_ID, generate  # noqa: E402
from proc_cpu import cpu_seconds_or_none  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.decode_workers import decode_lines  # noqa: E402
from orderflow.chain.ingest import ingest_file, ingest_logs  # noqa: E402

# --- harness -----------------------------------------------------------------------------------


def decode_in_child(logs: list[dict[str, Any]], batch_size: int) -> tuple[float, float]:
    """CPU seconds of what a decoding process does with the logs as JSON lines (parse, decode,
    render COPY text): the fast path (``decode_fast``) and the general one, batch by batch
    alternately so both see the same machine."""
    fast = general = 0.0
    for i in range(0, len(logs), batch_size):
        data = "\n".join(json.dumps(log) for log in logs[i : i + batch_size]).encode()
        fast += decode_lines(data, i + 1, "bench.jsonl", CHAIN_ID, c.MAINNET).cpu_secs
        general += decode_lines(
            data, i + 1, "bench.jsonl", CHAIN_ID, c.MAINNET, fast=False
        ).cpu_secs
    return fast, general


def _rate(count: int, secs: float) -> float:
    return count / secs if secs > 0 else float("inf")


def time_cli(
    dsn: str,
    path: Path,
    batch_size: int,
    workers: int | None,
    root: Path = ROOT,
    no_bulk: bool = False,
) -> float:
    """Wall seconds of ``orderflow listen --from-file PATH`` in a child process (start-up,
    migrations and the final summary included): the way a user imports a file. ``root``: the
    source tree to run (``--compare-tree``: an older checkout, without ``--workers``)."""
    env = {**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "orderflow", "listen", "--from-file", str(path)]
    cmd += ["--batch-size", str(batch_size)]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    if no_bulk:
        cmd += ["--no-bulk"]
    started = time.perf_counter()
    # run from the tree itself: ``python -m`` puts the working directory first on sys.path, ahead
    # of PYTHONPATH, so a child started inside a checkout ran that checkout's code whatever the
    # tree asked (until 6 Dec 2026 a --compare-tree run made inside a checkout timed it twice)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=root)
    secs = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"orderflow listen --from-file failed: {done.stderr[-2000:]}")
    return secs


async def serial_index_builds(dsn: str) -> None:
    """The deferred indexes a bulk import builds at its end (migration 072) built by the
    importing connection's own backend, not parallel workers: its CPU per log counts them. The
    CLI runs keep the server's default (what a user gets)."""
    conn = await db.connect(dsn)
    try:
        await conn.execute(
            "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET max_parallel_maintenance_workers"
            " = 0', current_database()); END $$"
        )
    finally:
        await conn.close()


async def main_async(args: argparse.Namespace) -> int:
    print(f"generating {args.logs:,} logs …", flush=True)
    logs = generate(args.logs, args.seed, ("V2",) if args.v2_only else None)
    fills = [
        log
        for log in logs
        if log["topics"][0] in (c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2)
    ]
    subset = fills[: args.baseline_logs]

    # Decode only (no database): CPU cost of turning raw logs into rows.
    started = time.perf_counter()
    batch = decode_batch(logs, CHAIN_ID)
    ours_decode = time.perf_counter() - started
    assert not batch.dead_letters, batch.dead_letters[:1]
    contracts = baseline_contracts()
    started = time.perf_counter()
    for log in subset:
        contracts[log["address"]].events.OrderFilled().process_log(log)
    web3_decode = time.perf_counter() - started
    del batch
    fast_cpu, general_cpu = decode_in_child(logs, args.batch_size)

    async with scratch_server(args.dsn, args.data_dir) as scratch:
        dsn = await scratch.fresh()
        await serial_index_builds(dsn)
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            # One connection: its server process does all the storing; its CPU time (and ours)
            # says what the run would take on an idle machine, which the shared one is not.
            backend = await pool.fetchval("SELECT pg_backend_pid()") if scratch.local else None
            server_cpu0, client_cpu0 = cpu_seconds_or_none(backend), time.process_time()
            report = await ingest_logs(
                pool, logs, chain_id=CHAIN_ID, batch_size=args.batch_size, bulk=not args.no_bulk
            )
            server_cpu1 = cpu_seconds_or_none(backend)
            client_cpu = time.process_time() - client_cpu0
            trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
            async with pool.acquire() as conn:
                ceiling = await copy_ceiling(conn, local=scratch.local)
        finally:
            await pool.close()
        ours = report.elapsed_secs
        file_secs = None
        cli_secs = None
        file_cpu0 = file_cpu1 = None
        other_secs = None
        file_parent = 0.0
        if not args.no_file:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "logs.jsonl"
                with path.open("w") as fh:
                    for log in logs:
                        fh.write(json.dumps(log) + "\n")
                dsn2 = await scratch.fresh()
                await serial_index_builds(dsn2)
                pool = await db.create_pool(dsn2, min_size=1, max_size=1)
                try:
                    backend = (
                        await pool.fetchval("SELECT pg_backend_pid()") if scratch.local else None
                    )
                    file_cpu0, parent0 = cpu_seconds_or_none(backend), time.process_time()
                    file_report = await ingest_file(
                        pool,
                        path,
                        chain_id=CHAIN_ID,
                        batch_size=args.batch_size,
                        workers=args.workers,
                        bulk=not args.no_bulk,
                    )
                    file_cpu1 = cpu_seconds_or_none(backend)
                    file_parent = time.process_time() - parent0
                finally:
                    await pool.close()
                file_secs = file_report.elapsed_secs
                if args.cli:
                    dsn4 = await scratch.fresh()
                    cli_secs = time_cli(
                        dsn4, path, args.batch_size, args.workers, no_bulk=args.no_bulk
                    )
                    if args.compare_tree:
                        dsn5 = await scratch.fresh()
                        tree = Path(args.compare_tree)
                        other_secs = time_cli(dsn5, path, args.batch_size, None, tree)
        dsn3 = await scratch.fresh()
        base = await run_baseline(dsn3, subset)

    s = report.stored
    print(
        f"logs: {len(logs):,} ({len(fills):,} OrderFilled) -> {trades:,} trades, "
        f"{s.matches:,} matches, {s.conditions} conditions, {s.tokens} tokens, "
        f"{s.outcomes} resolutions, {s.linked:,} cross-batch links, "
        f"{s.dead_letters} dead letters; batch size {args.batch_size}; "
        f"{'batch by batch (--no-bulk)' if args.no_bulk else 'bulk mode'}"
    )
    ours_rate = _rate(len(logs), ours)
    base_rate = _rate(len(subset), base)
    print(
        f"decode only   ours {_rate(len(logs), ours_decode):>12,.0f} logs/s   "
        f"web3 process_log {_rate(len(subset), web3_decode):>10,.0f} logs/s   "
        f"x{_rate(len(logs), ours_decode) / _rate(len(subset), web3_decode):.1f}"
    )
    print(
        f"decode+render in a child: {fast_cpu / len(logs) * 1e6:.1f} us/log fast vs "
        f"{general_cpu / len(logs) * 1e6:.1f} us/log general, same run "
        f"(x{general_cpu / fast_cpu:.2f}; JSON parsing included, CPU time)"
    )
    print(f"end to end    ours {ours_rate:>12,.0f} logs/s   ({ours:.2f} s for {len(logs):,})")
    if server_cpu0 is not None and server_cpu1 is not None:
        server_cpu = server_cpu1 - server_cpu0
        bound = len(logs) / max(server_cpu, client_cpu)
        print(
            f"  cpu: python {client_cpu:.2f} s, postgres backend {server_cpu:.2f} s -> "
            f"{bound:,.0f} logs/s when each side has a core (pipelined)"
        )
    if file_secs is not None:
        print(
            f"from a file   ours {_rate(len(logs), file_secs):>12,.0f} logs/s   "
            f"({file_secs:.2f} s, JSON parsing included, {args.workers} decoding processes)"
        )
        if file_cpu0 is not None and file_cpu1 is not None:
            n = len(logs)
            back, children = file_cpu1 - file_cpu0, file_report.decode_cpu_secs
            # With decoding processes the parent's own CPU excludes theirs; with a thread
            # (--workers 0) it includes it, and both share the parent's GIL (one core).
            if args.workers:
                parent = file_parent
                busiest = max(back, parent, children / args.workers)
            else:
                parent = file_parent - children
                busiest = max(back, file_parent)
            # Two idle cores: no process beyond one core, all of them within two.
            bound = n / max(busiest, (back + parent + children) / 2)
            print(
                f"  cpu per log: backend {back / n * 1e6:.1f} us, decoding "
                f"{children / n * 1e6:.1f} us, writer {parent / n * 1e6:.1f} us -> "
                f"{bound:,.0f} logs/s on two idle cores"
            )
    if cli_secs is not None:
        print(
            f"orderflow listen --from-file {_rate(len(logs), cli_secs):>8,.0f} logs/s   "
            f"({cli_secs:.2f} s wall in a child process, start-up included)"
        )
    if other_secs is not None and cli_secs is not None:
        print(
            f"  the same with {args.compare_tree}: {_rate(len(logs), other_secs):,.0f} logs/s "
            f"({other_secs:.2f} s) -> x{other_secs / cli_secs:.2f} for this tree"
        )
    print(
        f"COPY ceiling {ceiling.rate:>10,.0f} rows/s   (a plain asyncpg COPY of the "
        f"{ceiling.rows:,} stored trade rows into a table with its primary key, "
        f"{ceiling.secs:.2f} s"
        + (
            f", backend {ceiling.backend_cpu / ceiling.rows * 1e6:.1f} us a row"
            if ceiling.backend_cpu is not None
            else ""
        )
        + "; issue 14's reference: 138,000 rows/s when it was written)"
    )
    shares = [("ours", ours_rate)]
    if file_secs is not None:
        shares.append(("from a file", _rate(len(logs), file_secs)))
    if cli_secs is not None:
        shares.append(("listen --from-file", _rate(len(logs), cli_secs)))
    print(
        "  as a share of it: "
        + ", ".join(f"{name} {rate / ceiling.rate:.0%}" for name, rate in shares)
        + f"; the target 50,000 logs/s was {50_000 / 138_000:.0%} of the reference "
        f"({50_000 / 138_000 * ceiling.rate:,.0f} logs/s at this run's ceiling)"
    )
    print("load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    print(
        f"baseline           {base_rate:>12,.0f} logs/s   ({base:.2f} s for {len(subset):,} "
        f"fills: process_log + one INSERT each, extrapolated)"
    )
    print(f"ratio ours/baseline x{ours_rate / base_rate:.1f}")
    if cli_secs is not None:
        cli_rate = _rate(len(logs), cli_secs)
        print(f"ratio listen --from-file/baseline x{cli_rate / base_rate:.1f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--logs", type=int, default=200_000, help="raw logs to generate (200,000)")
    p.add_argument(
        "--baseline-logs",
        type=int,
        default=5_000,
        help="OrderFilled logs the baseline processes (rate extrapolated; 5,000)",
    )
    p.add_argument("--batch-size", type=int, default=5_000, help="logs per transaction (5,000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--workers", type=int, default=2, help="decoding processes for the file runs (2)"
    )
    p.add_argument("--no-file", action="store_true", help="skip the JSON-lines file run")
    p.add_argument("--v2-only", action="store_true", help="only the two V2 exchanges' logs")
    p.add_argument(
        "--cli", action="store_true", help="also time `orderflow listen --from-file` on the file"
    )
    p.add_argument(
        "--compare-tree",
        help="with --cli: also time `listen --from-file` of another source tree (e.g. an "
        "older commit from `git archive`), same file, same run",
    )
    p.add_argument(
        "--no-bulk",
        action="store_true",
        help="store batch by batch (the per-(wallet, token) sums kept per batch, not deferred)",
    )
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    return asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
