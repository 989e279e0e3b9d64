"""Measurement: PostgreSQL backend CPU per stored fill for candidate trades-table designs.

    .venv/bin/python benchmarks/schema_options.py                  # 150,000 fills per option
    .venv/bin/python benchmarks/schema_options.py --fills 50000 --only current,ids_part

Each option gets a fresh database; the same generated fills go in as the store does it (per
transaction of ``--batch`` fills: COPY into a temporary staging table, then one
``INSERT … SELECT … ON CONFLICT DO NOTHING``), and the run reports the backend's CPU time from
/proc (load-independent: what the option costs, whatever else the machine runs) next to the wall
time and the load average. Options (see docs/scaling.md for the reasoning):

* ``current``       the shipped schema (migrations 001-005): 66-char text keys, NUMERIC(78) token
                    ids, seven btree indexes, the wallet-stats and NOTIFY statement triggers;
* ``no_stats``      the same without the wallet-stats trigger (NOTIFY kept);
* ``pk_only``       the same with neither trigger nor the five secondary indexes;
* ``bytea``         32/20-byte bytea keys, the same index set, NOTIFY only;
* ``ids``           bytea hashes plus integer wallet and token ids through dictionary tables
                    (kept in a client-side cache: only new addresses are inserted), compact
                    identity (block, log index), same secondary index set, NOTIFY only;
* ``ids_part``      ``ids`` partitioned by block range (1M blocks per partition);
* ``part``          the shipped text columns, partitioned by block range, primary key on
                    (chain, block, log index), tx hash indexed apart, NOTIFY only;
* ``part_bare``     ``part`` with the primary key only (a backfill's mode);
* ``ids_part_agg``  ``ids_part`` plus the per-(wallet, token) scoring aggregate maintained by the
                    store from each batch's staging rows (one grouped upsert per batch): what
                    incremental scoring costs the hot path;
* ``ids_part_bare`` ``ids_part`` without secondary indexes (a history backfill's mode: the
                    indexes are built when it catches up — its build time is reported too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, schema_options_ddl

from proc_cpu import cpu_seconds  # noqa: E402
from schema_options_ddl import (  # noqa: E402
    AGG_TABLE,
    AGG_UPSERT,
    BYTEA_INSERT,
    BYTEA_TABLE,
    IDS_INDEXES,
    IDS_INSERT,
    K_UPSERT,
    NOTIFY_ONLY,
    PART_TEXT,
    PART_TEXT_INDEXES,
    W_UPSERT,
    Dictionary,
    ids_table,
)

from orderflow.chain import store_sql  # noqa: E402
from orderflow.migrate import migrate  # noqa: E402

T0 = 1_777_000_000


class Fills:
    """Fill rows in store_sql.FILL_COLUMNS order (hex text, as the decoder yields them).

    Streams: ``batches`` yields one transaction's rows at a time, so 10 M fills need no more
    memory than the wallet and token pools (about 1 wallet per 5 fills, 1 token per 75)."""

    def __init__(self, n: int, seed: int = 11) -> None:
        self.n = n
        self.seed = seed
        rng = random.Random(seed)
        self.wallets = [f"0x{rng.getrandbits(160):040x}" for _ in range(max(n // 5, 10))]
        self.tokens = [rng.getrandbits(256) for _ in range(max(n // 75, 4))]

    def token_ids(self) -> list[str]:
        return sorted({str(t) for t in self.tokens})

    def batches(self, size: int) -> Iterator[list[tuple[Any, ...]]]:
        rng = random.Random(self.seed + 1)
        wallets, tokens = self.wallets, self.tokens
        block, ts, log_index = 70_000_000, T0, 0
        exchange = "0xe111180000d2663c0091e4f400237545b87b996b"
        block_hash = f"0x{rng.getrandbits(256):064x}"
        rows: list[tuple[Any, ...]] = []
        made = 0
        while made < self.n:
            if rng.random() < 0.3:
                block, ts, log_index = block + 1, ts + 2, 0
                block_hash = f"0x{rng.getrandbits(256):064x}"
            tx = f"0x{rng.getrandbits(256):064x}"
            token = str(tokens[int(len(tokens) * rng.random() ** 2)])
            for _ in range(rng.randint(1, 4)):
                wallet = wallets[int(len(wallets) * rng.random() ** 3)]
                shares = rng.randint(1, 5_000) * 1_000_000
                rows.append(
                    (
                        tx, log_index, block, block_hash, ts, exchange, "V2",
                        f"0x{rng.getrandbits(256):064x}", wallet, exchange, False,
                        rng.choice(("BUY", "SELL")), token, shares,
                        shares * rng.randint(1, 99) // 100, 0, "COLLATERAL",
                        "0x" + "00" * 32, "0x" + "00" * 32, None,
                    )
                )  # fmt: skip
                log_index += 1
                made += 1
                if made >= self.n:
                    break
            if len(rows) >= size:
                yield rows[:size]
                rows = rows[size:]
        while rows:
            yield rows[:size]
            rows = rows[size:]


def _b(h: str | None) -> bytes | None:
    return None if h is None else bytes.fromhex(h[2:])


async def run_option(
    admin_dsn: str, option: str, fills: Fills, batch: int, report_every: int
) -> dict[str, float]:
    name = f"orderflow_opt_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{name}"))
    conn = await asyncpg.connect(dsn)
    try:
        return await _run(conn, option, fills, batch, report_every)
    finally:
        await conn.close()
        admin = await asyncpg.connect(admin_dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _run(
    conn: asyncpg.Connection, option: str, fills: Fills, batch: int, report_every: int
) -> dict[str, float]:
    tokens = fills.token_ids()
    wd = Dictionary(W_UPSERT)
    kd = Dictionary(K_UPSERT)
    if option in ("current", "no_stats", "pk_only", "part", "part_bare"):
        await migrate(conn)
        if option in ("current", "no_stats", "pk_only"):
            # the shipped table is partitioned (migration 012): its partitions for these fills
            await conn.execute("SELECT orderflow_ensure_partitions(69000000, 71999999)")
        if option in ("part", "part_bare"):
            await conn.execute(PART_TEXT + (PART_TEXT_INDEXES if option == "part" else ""))
        elif option != "current":
            # the wallet counters (migration 001), kept by the sums trigger since migration 011
            for trigger in (
                "orderflow_trades_wallet_stats",
                "orderflow_trades_position_sums_insert",
            ):
                await conn.execute(f"DROP TRIGGER IF EXISTS {trigger} ON orderflow_trades")
        if option == "pk_only":
            await conn.execute("DROP TRIGGER orderflow_trades_notify ON orderflow_trades")
            for ix in ("wallet_time", "market", "token_time", "timestamp", "block", "id", "tx"):
                await conn.execute(f"DROP INDEX IF EXISTS orderflow_trades_{ix}")
        await conn.execute(
            "INSERT INTO orderflow_tokens (token_id, condition_id, outcome_index, generation,"
            " source) SELECT t::numeric, '0x' || repeat('ab', 32), 0, 'CTF', 'bench'"
            " FROM unnest($1::text[]) t",
            tokens,
        )
    elif option == "bytea":
        await conn.execute(NOTIFY_ONLY + BYTEA_TABLE)
        await conn.execute(
            "INSERT INTO k SELECT t::numeric, '\\xabab'::bytea, 0 FROM unnest($1::text[]) t",
            tokens,
        )
    else:
        indexed = option in ("ids", "ids_part", "ids_part_agg")
        agg = AGG_TABLE if option == "ids_part_agg" else ""
        await conn.execute(NOTIFY_ONLY + ids_table(option != "ids", indexed) + agg)
    await conn.execute("CHECKPOINT")
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    cpu0, wall0, py0 = cpu_seconds(pid), time.perf_counter(), time.process_time()
    done = 0
    seg_cpu, seg_wall, seg_done = cpu0, wall0, 0
    for chunk in fills.batches(batch):
        async with conn.transaction():
            if option in ("current", "no_stats", "pk_only", "part", "part_bare"):
                await conn.execute(store_sql.CREATE_TEMP_TABLES)
                await conn.copy_records_to_table(
                    "orderflow_tmp_fills", records=chunk, columns=store_sql.FILL_COLUMNS
                )
                insert = store_sql.INSERT_TRADES
                if option.startswith("part"):
                    insert = insert.replace("(chain_id, tx_hash, log_index) DO", "DO")
                await conn.execute(insert, 137, None)
            elif option == "bytea":
                recs: list[tuple[Any, ...]] = [
                    (
                        _b(r[0]), r[1], r[2], _b(r[3]), r[4], _b(r[5]), r[6], _b(r[7]),
                        _b(r[8]), _b(r[9]), r[10], r[11], r[12], r[13], r[14], r[15], r[16],
                        _b(r[17]), _b(r[18]), r[19],
                    )
                    for r in chunk
                ]  # fmt: skip
                await conn.execute("TRUNCATE s")
                await conn.copy_records_to_table("s", records=recs)
                await conn.execute(BYTEA_INSERT)
            else:
                await wd.resolve(conn, {_b(r[8]) for r in chunk} | {_b(r[9]) for r in chunk})
                await kd.resolve(conn, {r[12] for r in chunk})
                w, kk = wd.ids, kd.ids
                recs = [
                    (
                        r[2], r[1], _b(r[0]), _b(r[3]), r[4], 2, _b(r[7]), w[_b(r[8])],
                        w[_b(r[9])], r[10], b"B" if r[11] == "BUY" else b"S", kk[r[12]],
                        r[13], r[14], r[15], b"C", _b(r[17]), _b(r[18]), r[19],
                    )
                    for r in chunk
                ]  # fmt: skip
                await conn.execute("TRUNCATE s")
                await conn.copy_records_to_table("s", records=recs)
                await conn.execute(IDS_INSERT)
                if option == "ids_part_agg":
                    # (the real store would aggregate only the rows the INSERT kept: RETURNING)
                    await conn.execute(AGG_UPSERT)
        done += len(chunk)
        if report_every and done - seg_done >= report_every:
            cpu_now, wall_now = cpu_seconds(pid), time.perf_counter()
            print(
                f"  {option}: {done:>12,} fills stored; last {done - seg_done:,}: backend"
                f" {(cpu_now - seg_cpu) / (done - seg_done) * 1e6:.1f} us/row, wall"
                f" {(done - seg_done) / (wall_now - seg_wall):,.0f} rows/s,"
                f" load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            seg_cpu, seg_wall, seg_done = cpu_now, wall_now, done
    cpu1, wall1, py1 = cpu_seconds(pid), time.perf_counter(), time.process_time()
    out = {"backend_cpu": cpu1 - cpu0, "wall": wall1 - wall0, "python_cpu": py1 - py0}
    table = (
        "orderflow_trades"
        if option in ("current", "no_stats", "pk_only") or option.startswith("part")
        else "t"
    )
    out["mb"] = (
        await conn.fetchval(
            "SELECT sum(pg_total_relation_size(c.oid))::float8 FROM pg_class c"
            " WHERE c.relname = $1 OR c.oid IN (SELECT inhrelid FROM pg_inherits"
            " WHERE inhparent = $1::regclass)",
            table,
        )
        / 1e6
    )
    if option in ("ids_part_bare", "part_bare"):
        c0, t0 = cpu_seconds(pid), time.perf_counter()
        await conn.execute(IDS_INDEXES if option == "ids_part_bare" else PART_TEXT_INDEXES)
        out["index_build_cpu"] = cpu_seconds(pid) - c0
        out["index_build_wall"] = time.perf_counter() - t0
    return out


async def main_async(args: argparse.Namespace) -> None:
    fills = Fills(args.fills)
    print(f"{args.fills:,} fills, {args.batch:,} per transaction; load {os.getloadavg()}")
    for option in args.only.split(","):
        r = await run_option(args.dsn, option, fills, args.batch, args.report_every)
        n = args.fills
        extra = ""
        if "index_build_cpu" in r:
            extra = (
                f"  (+ index build afterwards: {r['index_build_cpu'] / n * 1e6:.1f} us/row cpu,"
                f" {r['index_build_wall']:.1f} s)"
            )
        print(
            f"{option:14s} backend {r['backend_cpu'] / n * 1e6:6.1f} us/row"
            f" ({n / max(r['backend_cpu'], 1e-9):>9,.0f} rows/s of backend cpu)"
            f"  python {r['python_cpu'] / n * 1e6:5.1f} us/row"
            f"  wall {n / r['wall']:>8,.0f} rows/s  {r['mb'] / n * 1e6:5.0f} MB per M rows"
            f"  load {os.getloadavg()[0]:.1f}{extra}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fills", type=int, default=150_000)
    p.add_argument("--batch", type=int, default=5_000)
    p.add_argument(
        "--report-every", type=int, default=0, help="print the cost of every N fills (growth)"
    )
    p.add_argument(
        "--only",
        default="current,no_stats,pk_only,part,part_bare,bytea,ids,ids_part,ids_part_agg,ids_part_bare",
        help="comma-separated options",
    )
    p.add_argument("--dsn", default=os.environ.get("DATABASE_URL"), required=False)
    args = p.parse_args(argv)
    if not args.dsn:
        import pgserver

        # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
        server = pgserver.get_server(Path("/tmp/orderflow-schema-options"), cleanup_mode="delete")  # type: ignore[attr-defined]
        args.dsn = str(server.get_uri("postgres"))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
