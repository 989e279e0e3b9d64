"""Benchmark: the growth curve of the real path (issue 14) — ingest and scoring as fills pile up.

    .venv/bin/python benchmarks/growth.py                        # checkpoints at 1 M and 10 M fills
    .venv/bin/python benchmarks/growth.py --points 1M,10M,100M   # 100 M: hours, ~100 GB of disk
    .venv/bin/python benchmarks/growth.py --quick                # 100 k and 300 k (the smoke test)

One database grows through the shipped ingest path: ``orderflow.chain.ingest.ingest_logs`` in
bulk mode (decode in a worker thread, ``store_batch`` by COPY, the per-(wallet, token) sums
folded in at the end of each segment, as ``orderflow listen --from-file`` does). The raw logs are
generated as they are consumed (``benchmarks/ingest.py``'s block of trading, so memory stays
bounded): about one new wallet per ``--fills-per-wallet`` fills, a new market every
``--fills-per-market`` fills, each resolving once ``--active-markets`` newer ones exist, so the
older markets carry resolved positions for scoring.

At each checkpoint (``--points``) it prints, for the segment since the previous checkpoint: the
wall ingest rate, the CPU per fill of the one PostgreSQL backend that stored it (load-independent)
and of this Python process (generation + decoding + writing); the disk of orderflow_trades and
orderflow_matches (partitions and indexes included) and of the whole database, per million fills;
then, on the whole table, the full reputation recompute (``run_reputation(full=True)``, what
``orderflow reputation run --full`` calls) with its backend's CPU, a bare ``GROUP BY wallet``
over the trades, and the load average. A final table repeats the checkpoints.

Uses ``--dsn`` / ``DATABASE_URL`` (a maintenance database on a server where it may create and
drop ``orderflow_bench_*``) or else a private embedded PostgreSQL (pgserver) under
``--data-dir`` (default: a temporary directory, deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))  # proc_cpu, ingest

from ingest import (  # noqa: E402
    CHAIN_ID,
    T0,
    WEIGHTS,
    _h,
    fresh_database,
    prepare_market,
    trading_block,
    v3_market,
)
from proc_cpu import cpu_seconds_or_none  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain import contracts as c  # noqa: E402
from orderflow.chain.encode import LogPosition, encode_condition_resolution  # noqa: E402
from orderflow.chain.ingest import ingest_logs  # noqa: E402
from orderflow.reputation import ReputationSettings, run_reputation  # noqa: E402

FILL_TOPICS = frozenset((c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDER_FILLED_V2))
FIRST_BLOCK = 70_000_000
CROWD = 64  # recent traders remembered per market
_ADDRESS_MASK = (1 << 160) - 1
_ADDRESS_MULT = 0x9E3779B97F4A7C15F39CC0605CEDC8341082276B  # odd: i -> address is one-to-one

# The floor of any wallet-level scoring: one aggregation of every fill by wallet (counted on the
# server, so the time is PostgreSQL's, not the transfer of one row per wallet).
BARE_GROUP_BY = """
SELECT count(*) FROM (
    SELECT wallet_address, count(*), sum(usdc_size) FROM orderflow_trades GROUP BY 1) g
"""
# Heap + indexes + TOAST of a table and all its partitions.
TREE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_partition_tree($1)"
)


def _address(i: int) -> str:
    return f"0x{(i * _ADDRESS_MULT + 1) & _ADDRESS_MASK:040x}"


class GrowingChain:
    """An endless, deterministic chain of Polymarket trading, generated block by block.

    Wallets: ``max(1000, fills / fills_per_wallet)`` exist at any time, each fill's wallets drawn
    uniformly from them (the early ones accumulate more history, as on the real chain), except
    that with probability ``repeat`` a fill goes to one of the market's recent traders instead
    (a wallet trades a market several times: about 3 fills per (wallet, token)). Markets:
    ``active`` binary CTF markets trade at once; every ``fills_per_market`` fills a new one is
    prepared and the oldest resolves (its ConditionResolution in the same block), so by N fills
    about N / fills_per_market markets are resolved. V3 markets (no resolution events) rotate at
    the same pace, half as many.
    """

    def __init__(
        self,
        *,
        seed: int,
        fills_per_wallet: int,
        fills_per_market: int,
        active: int,
        repeat: float = 0.7,
    ) -> None:
        if active < 3:
            raise ValueError("at least 3 active markets (one of each kind)")
        self.rng = random.Random(seed)
        self.repeat = repeat
        self.fills_per_wallet = fills_per_wallet
        self.fills_per_market = fills_per_market
        self.active = active
        self.block = FIRST_BLOCK
        self.fills = 0  # OrderFilled logs generated so far (each is one row of orderflow_trades)
        self.logs = 0
        self.markets_prepared = 0
        self.markets_resolved = 0
        self._kinds: dict[str, list[tuple[int, int]]] = {"std": [], "neg": [], "v3": []}
        self._open: deque[tuple[str, tuple[int, int], tuple[str, str, str], int]] = deque()
        self._v3: deque[tuple[int, int]] = deque()
        self._next_market = fills_per_market
        self._wallets = 1000
        self._market: tuple[int, int] = (0, 0)
        self._crowds: dict[tuple[int, int], deque[int]] = {}  # recent traders of open markets

    def _pick_market(self, kind: str) -> tuple[int, int]:
        self._market = self.rng.choice(self._kinds[kind])
        return self._market

    def _pick_wallet(self) -> str:
        """A wallet for the market just picked: one of its recent traders with probability
        ``repeat``, else any wallet (who joins them): wallets come back to their markets."""
        crowd = self._crowds.setdefault(self._market, deque(maxlen=CROWD))
        if crowd and self.rng.random() < self.repeat:
            return _address(self.rng.choice(crowd))
        i = self.rng.randrange(self._wallets)
        crowd.append(i)
        return _address(i)

    def _market_logs(self, block_hash: str, ts: int, count: int) -> list[dict[str, Any]]:
        """``count`` new markets, each retiring the oldest open one once ``active`` are open."""
        logs: list[dict[str, Any]] = []
        rng = self.rng
        for _ in range(count):
            i = self.markets_prepared
            position = LogPosition(self.block, block_hash, _h(rng), len(logs), ts)
            kind, tokens, condition, log = prepare_market(rng, i, lambda p=position: p)
            self._kinds[kind].append(tokens)
            self._open.append((kind, tokens, condition, i))
            logs.append(log)
            self.markets_prepared += 1
            if i % 2 == 0:
                self._v3.append(v3_market(rng, i // 2))
                self._kinds["v3"].append(self._v3[-1])
            if len(self._open) > self.active:
                old_kind, old_tokens, (cid, oracle, question), j = self._open.popleft()
                self._kinds[old_kind].remove(old_tokens)
                self._crowds.pop(old_tokens, None)
                logs.append(
                    encode_condition_resolution(
                        at=LogPosition(self.block, block_hash, _h(rng), len(logs), ts),
                        condition_id=cid,
                        oracle=oracle,
                        question_id=question,
                        payout_numerators=[1, 0] if j % 2 else [0, 1],
                    )
                )
                self.markets_resolved += 1
            if len(self._v3) > self.active // 2:
                retired = self._v3.popleft()
                self._kinds["v3"].remove(retired)
                self._crowds.pop(retired, None)
        return logs

    def until(self, fills: int) -> Iterator[dict[str, Any]]:
        """Raw logs, whole blocks, until at least ``fills`` fills have been generated."""
        rng = self.rng
        while self.fills < fills:
            self.block += 1
            block_hash = _h(rng)
            ts = T0 + 2 * (self.block - FIRST_BLOCK)
            new = self.active if self.markets_prepared == 0 else 0
            while self.fills >= self._next_market:
                new += 1
                self._next_market += self.fills_per_market
            head = self._market_logs(block_hash, ts, new) if new else []
            self._wallets = max(self._wallets, self.fills // self.fills_per_wallet)
            trades = trading_block(
                rng,
                LogPosition(self.block, block_hash, "", len(head), ts),
                WEIGHTS,
                self._pick_market,
                self._pick_wallet,
            )
            self.fills += sum(1 for log in trades if log["topics"][0] in FILL_TOPICS)
            self.logs += len(head) + len(trades)
            yield from head
            yield from trades


@dataclass
class Point:
    """One checkpoint: the segment's ingest and the whole table's size and scoring."""

    fills: int
    segment_fills: int
    segment_logs: int
    ingest_secs: float
    backend_cpu: float | None
    python_cpu: float
    trades_bytes: int
    matches_bytes: int
    database_bytes: int
    wallets: int
    positions: int
    score_secs: float
    score_cpu: float | None
    score_source: str
    bare_secs: float
    resolved: int
    stages: dict[str, float]
    load: tuple[float, float, float]

    def lines(self) -> list[str]:
        m = self.fills / 1e6
        seg = max(self.segment_fills, 1)
        backend = (
            f"backend {self.backend_cpu / seg * 1e6:.1f} us/fill"
            if self.backend_cpu is not None
            else "backend CPU n/a (remote server)"
        )
        score_cpu = f", backend CPU {self.score_cpu:.1f} s" if self.score_cpu is not None else ""
        return [
            f"== {self.fills:,} fills stored ({self.wallets:,} wallets scored, "
            f"{self.resolved:,} markets resolved)",
            f"  ingest of the last {self.segment_fills:,} fills ({self.segment_logs:,} logs): "
            f"{self.segment_fills / self.ingest_secs:,.0f} fills/s wall "
            f"({self.ingest_secs:.1f} s); "
            f"{backend}, python {self.python_cpu / seg * 1e6:.1f} us/fill "
            f"(generation + decoding + writing)",
            f"  disk: trades {self.trades_bytes / 1e6 / m:,.0f} MB + matches "
            f"{self.matches_bytes / 1e6 / m:,.0f} MB per M fills; whole database "
            f"{self.database_bytes / 1e9:.2f} GB = {self.database_bytes / 1e6 / m:,.0f} MB per M",
            f"  full reputation run: {self.score_secs:.1f} s ({self.score_secs / m:.1f} s per M "
            f"fills{score_cpu}; {self.positions:,} positions from {self.score_source}); bare "
            f"GROUP BY wallet {self.bare_secs:.2f} s (x{self.score_secs / self.bare_secs:.0f})",
            f"  reputation stages (s): {self.stages}",
            "  load average {:.1f} {:.1f} {:.1f}".format(*self.load),
        ]


def parse_count(text: str) -> int:
    """``300k``, ``1M``, ``1.5M``, ``100M`` or a plain number."""
    text = text.strip().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(text[-1:].lower(), 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


async def _grow(
    dsn: str, chain: GrowingChain, fills: int, batch_size: int
) -> tuple[int, int, float, float | None, float]:
    """Ingest up to ``fills``: (trades stored, logs, wall s, backend CPU s, python CPU s)."""
    logs_before, fills_before = chain.logs, chain.fills
    pool = await db.create_pool(dsn, min_size=1, max_size=1)  # one backend does all the storing
    try:
        backend = await pool.fetchval("SELECT pg_backend_pid()")
        server0, client0 = cpu_seconds_or_none(backend), time.process_time()
        started = time.perf_counter()
        report = await ingest_logs(
            pool, chain.until(fills), chain_id=CHAIN_ID, batch_size=batch_size, bulk=True
        )
        wall = time.perf_counter() - started
        server1, client = cpu_seconds_or_none(backend), time.process_time() - client0
        if await pool.fetchval("SELECT pg_backend_pid()") != backend:
            server0 = None  # the pool replaced its connection: that backend's CPU is lost
    finally:
        await pool.close()
    assert report.stored.dead_letters == 0, report.summary()
    # every generated fill stored once (the generator counts what the store does)
    assert report.stored.trades == chain.fills - fills_before, report.summary()
    server = server1 - server0 if server0 is not None and server1 is not None else None
    return report.stored.trades, chain.logs - logs_before, wall, server, client


async def _measure(
    dsn: str, settings: ReputationSettings
) -> tuple[int, int, int, float, float | None, Any]:
    """(trades bytes, matches bytes, database bytes, bare GROUP BY s, scoring CPU, summary)."""
    pool = await db.create_pool(dsn, min_size=1, max_size=1)  # the run uses one at a time
    try:
        async with pool.acquire() as conn:
            trades = await conn.fetchval(TREE_BYTES, "orderflow_trades")
            matches = await conn.fetchval(TREE_BYTES, "orderflow_matches")
            database = await conn.fetchval("SELECT pg_database_size(current_database())")
            await conn.execute(f"SET work_mem = '{settings.work_mem}'")
            started = time.perf_counter()
            await conn.fetchval(BARE_GROUP_BY)
            bare = time.perf_counter() - started
            await conn.execute("RESET work_mem")
            backend = await conn.fetchval("SELECT pg_backend_pid()")
        cpu0 = cpu_seconds_or_none(backend)
        started = time.perf_counter()
        summary = await run_reputation(pool, settings=settings, full=True)
        summary.seconds = time.perf_counter() - started
        cpu1 = cpu_seconds_or_none(backend)
        if await pool.fetchval("SELECT pg_backend_pid()") != backend:
            cpu0 = None
    finally:
        await pool.close()
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return int(trades), int(matches), int(database), bare, cpu, summary


async def run(args: argparse.Namespace, points: list[int]) -> list[Point]:
    server = None
    admin_dsn = args.dsn or os.environ.get("DATABASE_URL")
    if not admin_dsn:
        import pgserver  # the embedded server orderflow uses

        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="orderflow-growth-"))
        server = pgserver.get_server(data_dir, cleanup_mode="delete")
        admin_dsn = str(server.get_uri("postgres"))
    created: list[str] = []
    results: list[Point] = []
    chain = GrowingChain(
        seed=args.seed,
        fills_per_wallet=args.fills_per_wallet,
        fills_per_market=args.fills_per_market,
        active=args.active_markets,
        repeat=args.repeat,
    )
    settings = ReputationSettings(work_mem=args.work_mem)
    try:
        dsn = await fresh_database(admin_dsn, created)
        print(f"growing {created[-1]} to {', '.join(f'{p:,}' for p in points)} fills", flush=True)
        stored = 0
        for target in points:
            trades, logs, wall, backend, python = await _grow(dsn, chain, target, args.batch_size)
            stored += trades
            t_bytes, m_bytes, d_bytes, bare, score_cpu, summary = await _measure(dsn, settings)
            point = Point(
                fills=stored,
                segment_fills=trades,
                segment_logs=logs,
                ingest_secs=wall,
                backend_cpu=backend,
                python_cpu=python,
                trades_bytes=t_bytes,
                matches_bytes=m_bytes,
                database_bytes=d_bytes,
                wallets=summary.wallets,
                positions=summary.positions,
                score_secs=summary.seconds,
                score_cpu=score_cpu,
                score_source=summary.source,
                bare_secs=bare,
                resolved=chain.markets_resolved,
                stages=summary.stages,
                load=os.getloadavg(),
            )
            results.append(point)
            print("\n".join(point.lines()), flush=True)
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            for name in created:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
        if server is not None:
            server.cleanup()
    return results


def table(points: list[Point]) -> str:
    """The checkpoints as a Markdown table (what docs/benchmarks.md "growth" shows)."""
    rows = [
        "| fills | wallets | segment fills/s wall | backend us/fill | python us/fill | "
        "positions | trades+matches MB/M | database MB/M | full run s | s per M fills "
        "| bare GROUP BY s "
        "| load (1 min) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        m, seg = p.fills / 1e6, max(p.segment_fills, 1)
        backend = f"{p.backend_cpu / seg * 1e6:.1f}" if p.backend_cpu is not None else "n/a"
        rows.append(
            f"| {p.fills:,} | {p.wallets:,} | {p.segment_fills / p.ingest_secs:,.0f} | {backend} "
            f"| {p.python_cpu / seg * 1e6:.1f} | {p.positions:,} "
            f"| {(p.trades_bytes + p.matches_bytes) / 1e6 / m:,.0f} "
            f"| {p.database_bytes / 1e6 / m:,.0f} | {p.score_secs:.1f} | {p.score_secs / m:.1f} "
            f"| {p.bare_secs:.2f} | {p.load[0]:.1f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--points", default="1M,10M", help="checkpoints, fills in the table (1M,10M; 100M: hours)"
    )
    p.add_argument("--quick", action="store_true", help="checkpoints 100k,300k (smoke test)")
    p.add_argument("--fills-per-wallet", type=int, default=15, help="one new wallet per N (15)")
    p.add_argument("--fills-per-market", type=int, default=2000, help="a new market per N (2000)")
    p.add_argument("--active-markets", type=int, default=200, help="markets open at once (200)")
    p.add_argument(
        "--repeat", type=float, default=0.7, help="chance a fill is by a recent trader (0.7)"
    )
    p.add_argument("--batch-size", type=int, default=5_000, help="logs per transaction (5,000)")
    p.add_argument("--work-mem", default="256MB", help="the reputation run's work_mem (256MB)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dsn", help="maintenance database URL (default DATABASE_URL, else embedded)")
    p.add_argument("--data-dir", help="embedded server directory (default: a temporary one)")
    args = p.parse_args(argv)
    points = sorted(
        {parse_count(x) for x in ("100k,300k" if args.quick else args.points).split(",")}
    )
    results = asyncio.run(run(args, points))
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
