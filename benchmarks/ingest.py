"""Benchmark: chain ingest (decode + store) against web3.py's process_log + one INSERT per row.

    .venv/bin/python benchmarks/ingest.py                 # 200,000 logs
    .venv/bin/python benchmarks/ingest.py --logs 20000 --baseline-logs 2000

Generates N raw logs with ``orderflow.chain.encode`` — a realistic mix of matches (1-3 maker
fills, the taker's aggregate fill, OrdersMatched) and direct fills on all five exchanges, plus
the ConditionPreparation of every market and some resolutions — then, in the same run, times

* ours: ``ingest_logs`` — ``decode_batch`` + ``store_batch`` (COPY, one transaction per batch,
  decoding one batch ahead in a worker thread) into a fresh migrated database;
* ours from a file: ``ingest_file`` on the same logs written as JSON lines with ``--workers``
  decoding processes (adds JSON parsing: what ``orderflow listen --from-file`` does), with the
  CPU per log of the PostgreSQL backend, the decoding processes and the writing process, and the
  rate those allow on two idle cores;
* the baseline on the first ``--baseline-logs`` OrderFilled logs: ``contract.events.OrderFilled()
  .process_log(log)`` with the exchange's ABI, then one ``INSERT … ON CONFLICT DO NOTHING`` per
  row in autocommit, as a straightforward listener would; its rate is extrapolated.

Both store in bulk mode (``--no-bulk``: batch by batch), as ``listen --from-file`` does by
default: the per-(wallet, token) sums are added once at the end of the import (its time and
backend CPU included).

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
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu

from proc_cpu import cpu_seconds_or_none  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain import partitions  # noqa: E402
from orderflow.chain.decode import decode_batch  # noqa: E402
from orderflow.chain.decode_workers import decode_lines  # noqa: E402
from orderflow.chain.encode import (  # noqa: E402
    LogPosition,
    encode_condition_preparation,
    encode_condition_resolution,
)
from orderflow.chain.encode_trades import encode_fill, encode_match  # noqa: E402
from orderflow.chain.ingest import ingest_file, ingest_logs  # noqa: E402
from orderflow.chain.tokens import condition_id, ctf_position_ids  # noqa: E402

T0 = 1_777_000_000
CHAIN_ID = 137
EXCHANGES: list[tuple[str, str, str]] = [  # (address, version, market kind), with weights below
    (c.V1_CTF_EXCHANGE, "V1", "std"),
    (c.V1_NEG_RISK_CTF_EXCHANGE, "V1", "neg"),
    (c.V2_CTF_EXCHANGE, "V2", "std"),
    (c.V2_NEG_RISK_CTF_EXCHANGE, "V2", "neg"),
    (c.V3_EXCHANGE, "V3", "v3"),
]
WEIGHTS = [25, 15, 30, 15, 15]


def _h(rng: random.Random, bits: int = 256) -> str:
    return f"0x{rng.getrandbits(bits):0{bits // 4}x}"


def prepare_market(
    rng: random.Random, i: int, position: Callable[[], LogPosition]
) -> tuple[str, tuple[int, int], tuple[str, str, str], dict[str, Any]]:
    """The ``i``-th binary CTF market (every third a neg-risk one): its kind ("std" or "neg"),
    (yes, no) token ids, (condition id, oracle, question id) and its ConditionPreparation log
    at ``position()`` (called after the question id is drawn)."""
    neg = i % 3 == 1
    oracle = c.NEG_RISK_ADAPTER if neg else "0x" + "0a" * 20
    question = _h(rng)
    cid = condition_id(oracle, question, 2)
    collateral = c.NEG_RISK_WRAPPED_COLLATERAL if neg else c.USDC_E
    yes, no = ctf_position_ids(cid, 2, collateral)
    log = encode_condition_preparation(
        at=position(), condition_id=cid, oracle=oracle, question_id=question, outcome_slot_count=2
    )
    return ("neg" if neg else "std"), (yes, no), (cid, oracle, question), log


def v3_market(rng: random.Random, i: int) -> tuple[int, int]:
    """The (yes, no) structured ExchangeV3 position ids of the ``i``-th V3 market."""
    base = (1 << 248) | (rng.getrandbits(128) << 120) | (2 << 104) | (i << 8)
    return base, base | 1


def generate(
    n: int, seed: int = 7, versions: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """N raw logs (deterministic for a seed), in chain order; ``versions`` keeps some exchanges."""
    rng = random.Random(seed)
    weights = [
        w if versions is None or e[1] in versions else 0
        for e, w in zip(EXCHANGES, WEIGHTS, strict=True)
    ]
    logs: list[dict[str, Any]] = []
    markets: dict[str, list[tuple[int, int]]] = {"std": [], "neg": [], "v3": []}
    conditions: list[tuple[str, str, str]] = []
    block = 70_000_000
    for i in range(max(4, n // 4000)):
        kind, tokens, condition, log = prepare_market(
            rng, i, lambda i=i: LogPosition(block, _h(rng), _h(rng), i, T0)
        )
        markets[kind].append(tokens)
        conditions.append(condition)
        logs.append(log)
    for i in range(max(2, n // 8000)):
        markets["v3"].append(v3_market(rng, i))
    wallets = [_h(rng, 160) for _ in range(max(50, n // 25))]
    while len(logs) < n:
        block += 1
        logs += trading_block(
            rng,
            LogPosition(block, _h(rng), "", 0, T0 + 2 * (block - 70_000_000)),
            weights,
            lambda kind: rng.choice(markets[kind]),
            lambda: rng.choice(wallets),
        )
    logs = logs[: max(0, n - len(conditions) // 2)]
    block += 1
    for i, (cid, oracle, question) in enumerate(conditions[: n - len(logs)]):
        logs.append(
            encode_condition_resolution(
                at=LogPosition(block, _h(rng), _h(rng), i, T0 + 10**6),
                condition_id=cid,
                oracle=oracle,
                question_id=question,
                payout_numerators=[1, 0] if i % 2 else [0, 1],
            )
        )
    return logs


def trading_block(
    rng: random.Random,
    at: LogPosition,
    weights: list[int],
    pick_market: Callable[[str], tuple[int, int]],
    pick_wallet: Callable[[], str],
) -> list[dict[str, Any]]:
    """One block of trading from log index ``at.log_index`` on: 4-12 matches (1-3 maker fills,
    the taker's aggregate fill, OrdersMatched) or direct V1 fills. ``pick_market(kind)``: the
    (yes, no) token ids of a market of that kind ("std", "neg", "v3"); ``pick_wallet()``: an
    address. Block number, hash and time come from ``at`` (its tx hash is ignored)."""
    logs: list[dict[str, Any]] = []
    block, block_hash, log_index = at.block_number, at.block_hash, at.log_index
    ts = at.timestamp or 0
    for _ in range(rng.randint(4, 12)):
        exchange, version, kind = rng.choices(EXCHANGES, weights)[0]
        yes, no = pick_market(kind)
        token = yes if rng.random() < 0.5 else no
        tx = _h(rng)
        cents = rng.randint(1, 99)

        def pos(
            li: int, b: int = block, tx: str = tx, bh: str = block_hash, ts: int = ts
        ) -> LogPosition:
            return LogPosition(b, bh, tx, li, ts)

        if version == "V1" and rng.random() < 0.15:  # a direct fillOrder: no match event
            shares = rng.randint(1, 5000) * 10_000
            logs.append(
                encode_fill(
                    "V1",
                    at=pos(log_index),
                    order_hash=_h(rng),
                    maker=pick_wallet(),
                    taker=pick_wallet(),
                    side=rng.choice(("BUY", "SELL")),
                    token_id=token,
                    shares=shares,
                    collateral=shares * cents // 100,
                    exchange=exchange,
                )
            )
            log_index += 1
            continue
        taker = pick_wallet()
        taker_hash = _h(rng)
        total = 0
        for _ in range(rng.randint(1, 3)):
            shares = rng.randint(1, 2000) * 10_000
            total += shares
            logs.append(
                encode_fill(
                    version,
                    at=pos(log_index),
                    order_hash=_h(rng),  # type: ignore[arg-type]
                    maker=pick_wallet(),
                    taker=taker,
                    side="SELL",
                    token_id=token,
                    shares=shares,
                    collateral=shares * cents // 100,
                    exchange=exchange,
                )
            )
            log_index += 1
        fee = 0 if version == "V1" else total * cents * (100 - cents) // 10_000 // 50
        logs.append(
            encode_fill(
                version,
                at=pos(log_index),
                order_hash=taker_hash,
                maker=taker,  # type: ignore[arg-type]
                taker=exchange,
                side="BUY",
                token_id=token,
                shares=total,
                collateral=total * cents // 100,
                fee=fee,
                exchange=exchange,
            )
        )
        logs.append(
            encode_match(
                version,
                at=pos(log_index + 1),
                taker_order_hash=taker_hash,  # type: ignore[arg-type]
                taker_order_maker=taker,
                side="BUY",
                token_id=token,
                shares=total,
                collateral=total * cents // 100,
                exchange=exchange,
            )
        )
        log_index += 2
    return logs


# --- the baseline: web3 contract objects + one INSERT per row ----------------------------------


def _event_abi(version: str) -> list[dict[str, Any]]:
    def arg(name: str, typ: str, indexed: bool = False) -> dict[str, Any]:
        return {"indexed": indexed, "name": name, "type": typ}

    head = [
        arg("orderHash", "bytes32", True),
        arg("maker", "address", True),
        arg("taker", "address", True),
    ]
    if version == "V1":
        body = [
            arg(n, "uint256")
            for n in (
                "makerAssetId",
                "takerAssetId",
                "makerAmountFilled",
                "takerAmountFilled",
                "fee",
            )
        ]
    else:
        body = [
            arg("side", "uint8"),
            arg("tokenId", "uint256"),
            *(arg(n, "uint256") for n in ("makerAmountFilled", "takerAmountFilled", "fee")),
            arg("builder", "bytes32"),
            arg("metadata", "bytes32"),
        ]
    return [{"anonymous": False, "inputs": head + body, "name": "OrderFilled", "type": "event"}]


BASELINE_INSERT = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
    exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
    side, token_id, price, size, usdc_size, fee, fee_asset)
VALUES ($1, $2, $3, $4, $5, to_timestamp($6), $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
        $17, $18, $19)
ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
"""


def _baseline_row(contracts: dict[str, Any], log: dict[str, Any]) -> tuple[Any, ...]:
    """What a straightforward listener does per log: web3 decodes, Python shapes the row."""
    address = log["address"]
    version = c.MAINNET.exchanges[address]
    ev = contracts[address].events.OrderFilled().process_log(log)
    a = ev["args"]
    if version == "V1":
        buy = a["makerAssetId"] == 0
        token = a["takerAssetId"] if buy else a["makerAssetId"]
        fee_asset = "SHARES" if buy else "COLLATERAL"
    else:
        buy = a["side"] == 0
        token = a["tokenId"]
        fee_asset = "COLLATERAL"
    maker_amount, taker_amount = a["makerAmountFilled"], a["takerAmountFilled"]
    shares, collateral = (taker_amount, maker_amount) if buy else (maker_amount, taker_amount)
    unit = Decimal(1_000_000)
    taker = a["taker"].lower()
    return (
        CHAIN_ID,
        ev["transactionHash"],
        int(ev["logIndex"], 16),
        int(ev["blockNumber"], 16),
        ev["blockHash"],
        int(log["blockTimestamp"], 16),
        address,
        version,
        "0x" + a["orderHash"].hex(),
        a["maker"].lower(),
        taker,
        taker == address,
        "BUY" if buy else "SELL",
        token,
        Decimal(collateral) / Decimal(shares) if shares else 0,
        Decimal(shares) / unit,
        Decimal(collateral) / unit,
        Decimal(a["fee"]) / unit,
        fee_asset,
    )


def baseline_contracts() -> dict[str, Any]:
    from web3 import Web3

    w3 = Web3()
    return {
        address: w3.eth.contract(address=Web3.to_checksum_address(address), abi=_event_abi(version))
        for address, version in c.MAINNET.exchanges.items()
    }


async def run_baseline(dsn: str, fills: list[dict[str, Any]]) -> float:
    contracts = baseline_contracts()
    conn = await db.connect(dsn)
    try:
        blocks = [int(log["blockNumber"], 16) for log in fills]
        if blocks:  # the partitions of orderflow_trades (migration 012), outside the timing
            await partitions.ensure(conn, min(blocks), max(blocks))
        started = time.perf_counter()
        for log in fills:
            await conn.execute(BASELINE_INSERT, *_baseline_row(contracts, log))
        return time.perf_counter() - started
    finally:
        await conn.close()


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
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    secs = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"orderflow listen --from-file failed: {done.stderr[-2000:]}")
    return secs


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
