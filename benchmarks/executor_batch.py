"""Benchmark: one executor batch end to end on a kept large database, read only.

    .venv/bin/python benchmarks/executor_batch.py --data-dir /work/bench/rep100k \\
        --database orderflow_bench_23a317ea [--batch 100] [--positions 50] \\
        [--sql migrations/092_tape_latest_prints.sql]

On the database ``benchmarks/reputation.py`` left (its trades, wallets and scores), one strategy
(paper) with ``--positions`` open positions in the most traded tokens, all made inside one
transaction that is rolled back at the end: the database is left as it was. The real
:class:`~orderflow.execution.trading.Trader` (its dedicated connection set to this one) processes
the ``--batch`` newest taker fills as the trading loop would (wallet views, the decisions'
stored rows, the book, the market views, the signals recorded); each statement it runs is
listed with its time (asyncpg's query logger), the slowest first. ``--sql``: a migration the
kept database predates, applied in the same transaction (rolled back too). Wall-clock figures
depend on the machine's load: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orderflow.execution.engine import Executor  # noqa: E402
from orderflow.execution.paper import PaperBroker  # noqa: E402
from orderflow.execution.settings import ExecutorSettings  # noqa: E402
from orderflow.execution.strategies import StrategyState  # noqa: E402
from orderflow.signals import queries as signal_queries  # noqa: E402
from orderflow.strategy.settings import StrategySettings  # noqa: E402

_POSITIONS = """
INSERT INTO orderflow_positions (strategy, token_id, status, shares, cost_basis, opened_at)
SELECT $1, token_id, 'OPEN', 100, 50, now() - interval '2 days'
  FROM (SELECT token_id FROM orderflow_trades WHERE id > $2 GROUP BY token_id
         ORDER BY count(*) DESC LIMIT $3) t
"""

# Rows of the trades' partitions read so far in this transaction (index fetches, bitmap heap
# rows and sequential scans alike): a figure the machine's load does not move.
_FETCHED = """
SELECT COALESCE(sum(idx_tup_fetch + seq_tup_read), 0)::bigint FROM pg_stat_xact_user_tables
 WHERE relname LIKE 'orderflow_trades%'
"""


class _Rollback(Exception):
    pass


async def _batch(conn: asyncpg.Connection, args: argparse.Namespace) -> None:
    for sql in args.sql:  # migrations the kept database predates, rolled back with the rest
        await conn.execute(sql)
    settings = StrategySettings.model_validate(
        {"min_trigger_usd": 1.0, "min_whale_score": 4.4, "max_fade_score": 4.1}
    )
    await conn.execute(
        "INSERT INTO orderflow_strategies (name, settings) VALUES ($1, $2)",
        "bench",
        settings.model_dump_json(),
    )
    top = await conn.fetchval("SELECT max(id) FROM orderflow_trades WHERE is_taker_aggregate")
    await conn.execute(_POSITIONS, "bench", top - 50_000, args.positions)
    after = top - args.batch
    state = StrategyState("bench", settings, cursor=after)
    pool = await asyncpg.create_pool(args.uri, min_size=1, max_size=2)
    try:
        executor_settings = ExecutorSettings(DATABASE_URL=None, EXECUTOR_INSTANCE_ID="bench-batch")
        ex = Executor(pool, args.uri, executor_settings, {"paper": PaperBroker(pool)})
        ex.trader.conn = conn  # the decision path's dedicated connection: this transaction
        statements: list[tuple[float, str]] = []

        def logged(record: object) -> None:
            statements.append((getattr(record, "elapsed", 0.0), getattr(record, "query", "")))

        conn.add_query_logger(logged)
        fetched = await conn.fetchval(_FETCHED)
        t0 = time.perf_counter()
        trades = await signal_queries.new_trades(conn, after, args.batch)
        created = await ex.trader.process(trades, [state], datetime.now(UTC))
        wall = time.perf_counter() - t0
        conn.remove_query_logger(logged)
        fetched = await conn.fetchval(_FETCHED) - fetched
        print(
            f"batch of {len(trades)} fills, {args.positions} open positions: {created} signals,"
            f" {wall * 1000:.0f} ms end to end, {len(statements)} statements, {fetched} trade"
            " rows read;"
            f" load average {os.getloadavg()}"
        )
        for elapsed, query in sorted(statements, key=lambda s: -s[0])[:12]:
            print(f"  {elapsed * 1000:8.1f} ms  {' '.join(query.split())[:110]}")
    finally:
        await pool.close()
    raise _Rollback


async def main(args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(args.uri)
    try:
        async with conn.transaction():
            await _batch(conn, args)
    except _Rollback:
        pass
    finally:
        await conn.close()


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--database", required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--positions", type=int, default=50)
    p.add_argument(
        "--sql", action="append", default=[], help="a migration to apply first (rolled back)"
    )
    args = p.parse_args()
    args.sql = [Path(path).read_text() for path in args.sql]
    import pgserver

    # pgserver's __init__ imports get_server without re-exporting it (no `as`, no __all__)
    server = pgserver.get_server(args.data_dir)  # type: ignore[attr-defined]
    args.uri = server.get_uri(args.database)
    return args


if __name__ == "__main__":
    asyncio.run(main(_args()))
