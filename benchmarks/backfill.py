"""Benchmark: a history backfill (the listener's eth_getLogs catch-up) against the file import.

    .venv/bin/python benchmarks/backfill.py                      # 200,000 logs, V2 only
    .venv/bin/python benchmarks/backfill.py --logs 50000 --all-exchanges

Generates N raw logs with ``benchmarks/log_mix.py``'s generator (one block hash per block, as a
node has), serves them from ``benchmarks/backfill_node.py`` -- a JSON-RPC node over HTTP in a
process of its own, which refuses a range of more than ``--max-logs`` logs as the providers do --
and times, in the same run, on fresh databases of one server:

* the backfill: ``Backfiller.run`` from the first block to the last, built as the live session
  builds it (``orderflow.chain.live_store``: the default eth_getLogs ranges, the reorg window's
  header checks), over ``HttpTransport``, in bulk mode as a long catch-up stores, then range by
  range as a short one does;
* the file import of the same logs (``ingest_file``, what ``orderflow listen --from-file`` runs,
  its default decoding processes).

For each: logs/s wall, and the CPU per log of the PostgreSQL backends (a pool of two: the file
import folds beside its batches on the second) and of the importing process (its decoding
processes apart); the node's own CPU is not counted. Uses ``--dsn`` /
``DATABASE_URL`` or a private embedded PostgreSQL (``benchmarks/scratch_db.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from log_mix import CHAIN_ID, generate  # noqa: E402
from proc_cpu import cpu_of, pool_backends  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.adaptive_range import AdaptiveRange  # noqa: E402
from orderflow.chain.backfill import Backfiller  # noqa: E402
from orderflow.chain.backfill_headers import HeaderCache  # noqa: E402
from orderflow.chain.contracts import MAINNET  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.chain.rpc import EthClient  # noqa: E402
from orderflow.chain.rpc_http import HttpTransport  # noqa: E402
from orderflow.chain.settings import ListenerSettings  # noqa: E402


def one_hash_per_block(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The generator gives some logs of one block different hashes; a node gives one."""
    first: dict[str, str] = {}
    for log in logs:
        log["blockHash"] = first.setdefault(log["blockNumber"], log["blockHash"])
    return logs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_for_node(client: EthClient, node: asyncio.subprocess.Process) -> int:
    for _ in range(300):
        if node.returncode is not None:
            raise SystemExit(f"the stand-in node exited with {node.returncode}")
        try:
            return await client.block_number()
        except Exception:
            await asyncio.sleep(0.1)
    raise SystemExit("the stand-in node did not answer in 30 s")


async def _pool(dsn: str) -> asyncpg.Pool:
    """Two connections, kept for the run (their backends' CPU is summed): the file import folds
    its deferred sums on the second beside its batches, as ``listen --from-file``'s larger pool
    does (a pool of one folds between them, as a backfill does whatever its pool)."""
    return await db.create_pool(dsn, min_size=2, max_size=2, max_inactive_connection_lifetime=0)


async def time_backfill(
    dsn: str, url: str, first: int, last: int, *, bulk: bool
) -> dict[str, float]:
    # the listener's defaults (the settings themselves need a node URL)
    defaults = {name: f.default for name, f in ListenerSettings.model_fields.items()}
    pool = await _pool(dsn)
    client = EthClient(HttpTransport(url))
    try:
        backends = await pool_backends(pool)
        backfiller = Backfiller(
            pool,
            client,
            chain_id=CHAIN_ID,
            addresses=MAINNET,
            ranges=AdaptiveRange(
                defaults["getlogs_initial_blocks"],
                defaults["getlogs_min_blocks"],
                defaults["getlogs_max_blocks"],
            ),
            headers=HeaderCache(client),
            verify_depth=defaults["reorg_window_blocks"],
        )
        cpu0, own0, started = cpu_of(backends), time.process_time(), time.perf_counter()
        report = await backfiller.run(first, last, bulk=bulk)
        wall = time.perf_counter() - started
        cpu1, own = cpu_of(backends), time.process_time() - own0
        trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    finally:
        await client.transport.aclose()  # type: ignore[attr-defined]
        await pool.close()
    return {
        "wall": wall,
        "backend": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else float("nan"),
        "own": own,
        "logs": report.logs,
        "trades": trades,
        "ranges": report.ranges,
        "shrinks": report.shrinks,
    }


async def time_file(dsn: str, path: Path) -> dict[str, float]:
    pool = await _pool(dsn)
    try:
        backends = await pool_backends(pool)
        cpu0, own0 = cpu_of(backends), time.process_time()
        report = await ingest_file(pool, path, chain_id=CHAIN_ID, bulk=True)
        cpu1, own = cpu_of(backends), time.process_time() - own0
        trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    finally:
        await pool.close()
    return {
        "wall": report.elapsed_secs,
        "backend": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else float("nan"),
        "own": own,
        "decoding": report.decode_cpu_secs,
        "logs": report.logs,
        "trades": trades,
    }


def line(name: str, n: int, r: dict[str, float]) -> str:
    per = {k: r[k] / n * 1e6 for k in ("backend", "own", "decoding") if k in r}
    cpu = ", ".join(f"{k} {v:.1f} us" for k, v in per.items())
    return f"{name:<14} {n / r['wall']:>9,.0f} logs/s ({r['wall']:.2f} s); CPU per log: {cpu}"


async def main_async(args: argparse.Namespace) -> int:
    print(f"generating {args.logs:,} logs …", flush=True)
    logs = one_hash_per_block(
        generate(args.logs, args.seed, None if args.all_exchanges else ("V2",))
    )
    first, last = int(logs[0]["blockNumber"], 16), int(logs[-1]["blockNumber"], 16)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "logs.jsonl"
        with path.open("w") as fh:
            for log in logs:
                fh.write(json.dumps(log) + "\n")
        port = free_port()
        node = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "benchmarks" / "backfill_node.py"), str(path), str(port),
            "--max-logs", str(args.max_logs),
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/"
            probe = EthClient(HttpTransport(url))
            try:
                await wait_for_node(probe, node)
            finally:
                await probe.transport.aclose()  # type: ignore[attr-defined]
            async with scratch_server(args.dsn, args.data_dir) as scratch:
                results: dict[str, dict[str, float]] = {}
                for _ in range(args.rounds):
                    for bulk in (True, False):
                        name = "backfill" if bulk else "range by range"
                        results[name] = await time_backfill(
                            await scratch.fresh(), url, first, last, bulk=bulk
                        )
                        print(line(name, len(logs), results[name]), flush=True)
                    if not args.no_file:
                        results["file"] = await time_file(await scratch.fresh(), path)
                        print(line("file import", len(logs), results["file"]), flush=True)
        finally:
            node.terminate()
            await node.wait()
    b = results["backfill"]
    print(
        f"logs: {len(logs):,} in blocks {first:,}-{last:,} -> {b['trades']:,.0f} trades; "
        f"{b['ranges']:.0f} eth_getLogs ranges ({b['shrinks']:.0f} refused: over "
        f"{args.max_logs:,} logs)"
    )
    if "file" in results:
        f = results["file"]
        assert f["trades"] == b["trades"], (f["trades"], b["trades"])
        print(f"backfill / file import: x{f['wall'] / b['wall']:.2f} the file import's rate")
    print("load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=200_000, help="raw logs (200,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--all-exchanges", action="store_true", help="V1 and V3 too (V2 only)")
    parser.add_argument("--max-logs", type=int, default=10_000, help="logs per eth_getLogs reply")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-file", action="store_true", help="skip the file import")
    parser.add_argument("--dsn", default=None)
    parser.add_argument("--data-dir", default=None)
    return asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
