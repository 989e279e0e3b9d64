"""The closing lines' probes read the token index alone (migration 028): its key holds their
whole order (token, time, log index) and it includes the price and the block number the as_of gate
reads, so on vacuumed partitions no probe fetches a heap row (≈ 600,000 random heap reads in a
full run at 1 M wallets before: docs/benchmarks.md "Closing lines read from the index"). The
line's window (orderflow.reputation.line_sql: the 6 hours up to the last trade, at most 64 rows)
reads each row's wallets from the heap, by the same index, and so do the reads of the last market
print before it (the matches inside one wash group left out: line_sql.wash_print)."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import line_sql, positions_sql
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import World, edge_taker, noise_taker


async def test_the_closing_lines_are_read_from_the_token_index_alone(pool: asyncpg.Pool) -> None:
    w = World(seed=71, markets=12, neg_risk_events=0, makers=2)
    for i in range(6):
        (edge_taker(w, w.new_wallet(), 6, 0.05) if i % 2 else noise_taker(w, w.new_wallet(), 6))
    for s in w.specs[:8]:  # some resolved (closing line and the trade before), some open (mark)
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    await pool.execute("VACUUM ANALYZE orderflow_trades")
    settings = ReputationSettings()
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(positions_sql.positions(stored=False), as_of)
        await conn.execute(positions_sql.ANALYZE)
        await conn.execute(WASH, as_of, *wash_settings(settings))
        await line_sql.keep_hosts(conn, "rep_wash")
        # the plan a large table gets (a small one may well be read whole)
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        plan = [
            r[0]
            for r in await conn.fetch(
                "EXPLAIN (ANALYZE, COSTS OFF) " + ev.CLOSES, as_of, settings.clv_horizon
            )
        ]
    text = "\n".join(plan)
    reads = [i for i, line in enumerate(plan) if "orderflow_trades_p" in line and " using " in line]
    # the windows' reads: by the token index, bounded by the window (the next line's condition)
    window = [i for i in reads if f"'{line_sql.WINDOW_SECS // 3600:02d}:00:00'" in plan[i + 1]]
    # the reads of market prints (line_sql.wash_print: each row's wallets, from the heap) by the
    # token index; a grouped wallet's taker row's maker rows by the transaction index
    market = [i for i in reads if i not in window and "CASE" in plan[i + 2]]
    by_tx = [i for i in reads if "tx_hash" in plan[i]]
    probes = [i for i in reads if i not in window and i not in market and i not in by_tx]
    assert probes and window and market, text
    # the last trade by the close and an open token's last trade: the token index alone
    assert all("Index Only Scan" in plan[i] and "token" in plan[i] for i in probes), text
    assert all("Index Scan" in plan[i] and "token_time" in plan[i] for i in window + market), text
    fetches = [plan[i + 3].strip() for i in probes]
    assert all(line == "Heap Fetches: 0" for line in fetches), text
