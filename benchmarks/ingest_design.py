"""Prototype of the scaled ingest path, timed against the shipped one in the same run.

    .venv/bin/python benchmarks/ingest_design.py                    # 200,000 logs
    .venv/bin/python benchmarks/ingest_design.py --logs 50000 --workers 1

What it does (docs/scaling.md explains why each piece is there):

* the JSON-lines file is cut into byte ranges of about ``--batch`` whole lines by the parent,
  which reads no data; ``--workers`` child processes read their range, parse (orjson when
  installed, else json), decode (``decode_batch``, unchanged) and
  render each batch as COPY text with the hashes as bytea (``\\x…``): the parent never touches a
  decoded row, so decoding runs on the other core instead of under the event loop's GIL;
* the parent stores batches strictly in file order, each in one transaction with its checkpoint
  (exactly-once is the shipped store's: COPY into a staging table, ``INSERT … SELECT … ON CONFLICT
  DO NOTHING`` on the identity (chain, block, log index)), into a trades table partitioned by
  block range with 32/20-byte bytea keys, the token registry join, and only the primary key
  while backfilling: the secondary indexes are built when the import has caught up (timed
  separately, reported);
* no wallet-counter trigger (counters come from the scoring aggregates), the NOTIFY trigger kept.

The shipped path (``ingest_file``, the current schema) runs on the same file in the same run, so
the two rates are comparable whatever the machine's load. Conditions, resolutions and token
registrations (0.04 % of the logs) are counted but not stored by the prototype.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from log_mix import generate  # noqa: E402
from proc_cpu import cpu_seconds  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.migrate import migrate  # noqa: E402

CHAIN_ID = 137
BLOCKS_PER_PARTITION = 1_000_000

SCHEMA = """
CREATE TABLE p_trades (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    chain_id INTEGER NOT NULL, block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,
    tx_hash BYTEA NOT NULL, block_hash BYTEA NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
    exchange BYTEA NOT NULL, exchange_version TEXT NOT NULL, order_hash BYTEA NOT NULL,
    wallet_address BYTEA NOT NULL, taker_address BYTEA NOT NULL,
    is_taker_aggregate BOOLEAN NOT NULL, side TEXT NOT NULL, token_id NUMERIC(78,0) NOT NULL,
    market_id BYTEA, outcome_index SMALLINT, price NUMERIC(20,10) NOT NULL,
    size NUMERIC(38,6) NOT NULL, usdc_size NUMERIC(38,6) NOT NULL, fee NUMERIC(38,6) NOT NULL,
    fee_asset TEXT NOT NULL, builder BYTEA, metadata BYTEA, match_log_index INTEGER,
    traceparent TEXT, inserted_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (chain_id, block_number, log_index)
) PARTITION BY RANGE (block_number);
CREATE TABLE p_matches (
    chain_id INTEGER NOT NULL, block_number BIGINT NOT NULL, log_index INTEGER NOT NULL,
    tx_hash BYTEA NOT NULL, block_hash BYTEA NOT NULL, timestamp TIMESTAMPTZ NOT NULL,
    exchange BYTEA NOT NULL, exchange_version TEXT NOT NULL, taker_order_hash BYTEA NOT NULL,
    taker_wallet BYTEA NOT NULL, side TEXT NOT NULL, token_id NUMERIC(78,0) NOT NULL,
    market_id BYTEA, outcome_index SMALLINT, price NUMERIC(20,10) NOT NULL,
    size NUMERIC(38,6) NOT NULL, usdc_size NUMERIC(38,6) NOT NULL,
    PRIMARY KEY (chain_id, block_number, log_index)
) PARTITION BY RANGE (block_number);
CREATE TABLE p_tokens (token_id NUMERIC(78,0) PRIMARY KEY, condition_id BYTEA,
                       outcome_index SMALLINT);
CREATE TABLE p_checkpoints (stream TEXT PRIMARY KEY, block_number BIGINT NOT NULL);
CREATE FUNCTION p_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n BIGINT; lo BIGINT; hi BIGINT;
BEGIN
    SELECT min(id), max(id), count(*) INTO lo, hi, n FROM new_rows;
    IF n > 0 THEN
        PERFORM pg_notify('orderflow_trades',
                          json_build_object('min_id', lo, 'max_id', hi, 'count', n)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER p_trades_notify AFTER INSERT ON p_trades REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION p_notify();
"""
SECONDARY = """
CREATE INDEX ON p_trades (wallet_address, timestamp);
CREATE INDEX ON p_trades (market_id, timestamp);
CREATE INDEX ON p_trades (token_id, timestamp);
CREATE INDEX ON p_trades (timestamp);
CREATE INDEX ON p_trades (tx_hash);
CREATE INDEX ON p_trades (id);
"""
STAGING = """
CREATE TEMP TABLE s_fills (block_number bigint, log_index int, tx_hash bytea, block_hash bytea,
    ts bigint, exchange bytea, exchange_version text, order_hash bytea, wallet bytea,
    taker bytea, is_taker_aggregate bool, side text, token_id numeric, shares bigint,
    collateral bigint, fee bigint, fee_asset text, builder bytea, metadata bytea)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE s_matches (block_number bigint, log_index int, tx_hash bytea,
    block_hash bytea, ts bigint, exchange bytea, exchange_version text,
    taker_order_hash bytea, taker_wallet bytea, side text, token_id numeric, shares bigint,
    collateral bigint) ON COMMIT DELETE ROWS;
"""
INSERT_FILLS = """
INSERT INTO p_trades (chain_id, block_number, log_index, tx_hash, block_hash, timestamp,
    exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
    side, token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset, builder,
    metadata)
SELECT $1, f.block_number, f.log_index, f.tx_hash, f.block_hash, to_timestamp(f.ts),
       f.exchange, f.exchange_version, f.order_hash, f.wallet, f.taker, f.is_taker_aggregate,
       f.side, f.token_id, k.condition_id, k.outcome_index,
       CASE WHEN f.shares = 0 THEN 0 ELSE f.collateral::numeric / f.shares END,
       f.shares / 1000000.0, f.collateral / 1000000.0, f.fee / 1000000.0, f.fee_asset,
       f.builder, f.metadata
  FROM s_fills f LEFT JOIN p_tokens k ON k.token_id = f.token_id
ON CONFLICT DO NOTHING
"""
INSERT_MATCHES = """
INSERT INTO p_matches (chain_id, block_number, log_index, tx_hash, block_hash, timestamp,
    exchange, exchange_version, taker_order_hash, taker_wallet, side, token_id, market_id,
    outcome_index, price, size, usdc_size)
SELECT $1, m.block_number, m.log_index, m.tx_hash, m.block_hash, to_timestamp(m.ts),
       m.exchange, m.exchange_version, m.taker_order_hash, m.taker_wallet, m.side, m.token_id,
       k.condition_id, k.outcome_index,
       CASE WHEN m.shares = 0 THEN 0 ELSE m.collateral::numeric / m.shares END,
       m.shares / 1000000.0, m.collateral / 1000000.0
  FROM s_matches m LEFT JOIN p_tokens k ON k.token_id = m.token_id
ON CONFLICT DO NOTHING
"""
CHECKPOINT = """
INSERT INTO p_checkpoints VALUES ($1, $2)
ON CONFLICT (stream) DO UPDATE SET block_number = greatest(p_checkpoints.block_number,
                                                           EXCLUDED.block_number)
"""


def _x(h: str | None) -> str:
    """A 0x-hex string as a COPY-text bytea literal (or NULL)."""
    return "\\N" if h is None else "\\\\x" + h[2:]


try:  # a C JSON parser when installed: ~4 us per 1 KB line instead of ~9
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - optional
    _loads = json.loads  # type: ignore[assignment]


def render(path: str, start: int, end: int) -> tuple[bytes, bytes, int, int, int]:
    """Child process: read a byte range of whole lines, parse, decode, render COPY text.

    Returns (fills, matches, logs, top block, cpu microseconds)."""
    cpu0 = time.process_time()
    with open(path, "rb") as fh:
        fh.seek(start)
        lines = fh.read(end - start).splitlines()
    raws = [_loads(line) for line in lines if line.strip()]
    batch = decode_batch(raws, CHAIN_ID)
    out: list[str] = []
    epochs: dict[object, int] = {}
    top = 0
    for f in batch.fills:
        r = f.ref
        ts = r.timestamp
        e = epochs.get(ts)
        if e is None:
            e = epochs[ts] = int(ts.timestamp()) if ts is not None else 0
        top = max(top, r.block_number)
        out.append(
            f"{r.block_number}\t{r.log_index}\t{_x(r.tx_hash)}\t{_x(r.block_hash)}\t{e}\t"
            f"{_x(r.address)}\t{f.exchange_version}\t{_x(f.order_hash)}\t{_x(f.maker)}\t"
            f"{_x(f.taker)}\t{'t' if f.is_taker_aggregate else 'f'}\t{f.side}\t{f.token_id}\t"
            f"{f.shares}\t{f.collateral}\t{f.fee}\t{f.fee_asset}\t{_x(f.builder)}\t"
            f"{_x(f.metadata)}\n"
        )
    fills = "".join(out).encode()
    out = []
    for m in batch.matches:
        r = m.ref
        ts = r.timestamp
        e = epochs.get(ts)
        if e is None:
            e = epochs[ts] = int(ts.timestamp()) if ts is not None else 0
        top = max(top, r.block_number)
        out.append(
            f"{r.block_number}\t{r.log_index}\t{_x(r.tx_hash)}\t{_x(r.block_hash)}\t{e}\t"
            f"{_x(r.address)}\t{m.exchange_version}\t{_x(m.taker_order_hash)}\t"
            f"{_x(m.taker_wallet)}\t{m.side}\t{m.token_id}\t{m.shares}\t{m.collateral}\n"
        )
    matches = "".join(out).encode()
    cpu = int((time.process_time() - cpu0) * 1e6)
    return fills, matches, len(raws), top, cpu


def _ranges(path: Path, lines_per_batch: int) -> list[tuple[str, int, int]]:
    """Byte ranges of about ``lines_per_batch`` whole lines each (the parent reads no data)."""
    size = path.stat().st_size
    out: list[tuple[str, int, int]] = []
    with path.open("rb") as fh:
        sample = [fh.readline() for _ in range(100)]
        approx = max(1, sum(map(len, sample)) // max(1, len([x for x in sample if x])))
        start = 0
        while start < size:
            fh.seek(min(start + approx * lines_per_batch, size))
            fh.readline()  # to the end of the line we landed in
            end = min(fh.tell(), size) if start + approx * lines_per_batch < size else size
            out.append((str(path), start, end))
            start = end
    return out


async def run_design(dsn: str, path: Path, batch: int, workers: int) -> dict[str, float]:
    conn = await db.connect(dsn)
    await conn.execute(SCHEMA)
    for i in range(60, 80):
        lo, hi = i * BLOCKS_PER_PARTITION, (i + 1) * BLOCKS_PER_PARTITION
        for t in ("p_trades", "p_matches"):
            await conn.execute(
                f"CREATE TABLE {t}_{i} PARTITION OF {t} FOR VALUES FROM ({lo}) TO ({hi})"
            )
    await conn.execute(STAGING)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    loop = asyncio.get_running_loop()
    started, cpu0, py0 = time.perf_counter(), cpu_seconds(pid), time.process_time()
    child_us = 0
    logs = 0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        batches = _ranges(path, batch)
        pending = [loop.run_in_executor(pool, render, *b) for b in batches[: workers + 1]]
        nxt = len(pending)
        while pending:
            fills, matches, n, top, cpu = await pending.pop(0)
            if nxt < len(batches):
                pending.append(loop.run_in_executor(pool, render, *batches[nxt]))
                nxt += 1
            child_us += cpu
            logs += n
            async with conn.transaction():
                await conn.execute("SET LOCAL synchronous_commit = off")
                await conn.copy_to_table("s_fills", source=io.BytesIO(fills), format="text")
                await conn.copy_to_table("s_matches", source=io.BytesIO(matches), format="text")
                await conn.execute(INSERT_FILLS, CHAIN_ID)
                await conn.execute(INSERT_MATCHES, CHAIN_ID)
                await conn.execute(CHECKPOINT, "file", top)
    elapsed = time.perf_counter() - started
    backend = cpu_seconds(pid) - cpu0
    py = time.process_time() - py0
    c1, t1 = cpu_seconds(pid), time.perf_counter()
    await conn.execute(SECONDARY)
    index_cpu, index_wall = cpu_seconds(pid) - c1, time.perf_counter() - t1
    trades = await conn.fetchval("SELECT count(*) FROM p_trades")
    await conn.close()
    return {
        "logs": logs,
        "trades": trades,
        "wall": elapsed,
        "backend_cpu": backend,
        "parent_cpu": py,
        "child_cpu": child_us / 1e6,
        "index_cpu": index_cpu,
        "index_wall": index_wall,
    }


async def run_shipped(dsn: str, path: Path, batch: int) -> dict[str, float]:
    conn = await db.connect(dsn)
    await migrate(conn)
    await conn.close()
    pool = await db.create_pool(dsn, min_size=1, max_size=1)
    pid = await pool.fetchval("SELECT pg_backend_pid()")
    cpu0, py0 = cpu_seconds(pid), time.process_time()
    report = await ingest_file(pool, path, chain_id=CHAIN_ID, batch_size=batch)
    out = {
        "logs": report.logs,
        "trades": report.stored.trades,
        "wall": report.elapsed_secs,
        "backend_cpu": cpu_seconds(pid) - cpu0,
        "parent_cpu": time.process_time() - py0,
    }
    await pool.close()
    return out


async def main_async(args: argparse.Namespace) -> None:
    import pgserver

    tmp = Path(tempfile.mkdtemp(prefix="orderflow-design-"))
    path = tmp / "logs.jsonl"
    with path.open("w") as fh:
        for log in generate(args.logs, args.seed):
            fh.write(json.dumps(log) + "\n")
    admin_dsn = args.dsn
    server = None
    if not admin_dsn:
        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(tmp / "pg", cleanup_mode="delete")  # type: ignore[attr-defined]
        admin_dsn = str(server.get_uri("postgres"))
    names = [f"orderflow_design_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = await asyncpg.connect(admin_dsn)
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        dsns = [urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{n}")) for n in names]
        load0 = os.getloadavg()[0]
        design = await run_design(dsns[0], path, args.batch, args.workers)
        shipped = None if args.no_shipped else await run_shipped(dsns[1], path, args.batch)
        load1 = os.getloadavg()[0]
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    n = design["logs"]
    writer = design["backend_cpu"] + design["parent_cpu"]
    print(
        f"{n:,} logs ({design['trades']:,} fills) from a file; load average {load0:.1f}-{load1:.1f}"
    )
    print(
        f"design  : {n / design['wall']:>9,.0f} logs/s wall;  cpu per log: backend "
        f"{design['backend_cpu'] / n * 1e6:.1f} us, decoding children "
        f"{design['child_cpu'] / n * 1e6:.1f} us, parent {design['parent_cpu'] / n * 1e6:.1f} us"
        f"  -> idle 2-core bound {n / max(writer, design['child_cpu']):,.0f}"
        f" logs/s (one core the backend+parent, one the decoder)"
    )
    print(
        f"          secondary indexes built afterwards: {design['index_wall']:.1f} s wall, "
        f"{design['index_cpu'] / max(design['trades'], 1) * 1e6:.1f} us backend cpu per fill"
    )
    if shipped is not None:
        print(
            f"shipped : {n / shipped['wall']:>9,.0f} logs/s wall;  cpu per log: backend "
            f"{shipped['backend_cpu'] / n * 1e6:.1f} us, python "
            f"{shipped['parent_cpu'] / n * 1e6:.1f} us"
        )
        print(f"speed-up (wall, same run): x{shipped['wall'] / design['wall']:.2f}")
        print(f"stored {design['trades']:,} / {shipped['trades']:,} fills (design / shipped)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--logs", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument("--workers", type=int, default=2, help="decoding processes (2)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-shipped", action="store_true", help="skip the shipped path")
    p.add_argument("--dsn", default=os.environ.get("DATABASE_URL"))
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
