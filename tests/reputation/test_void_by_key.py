"""``VOID`` reads each voided fill back from the trades by its primary key (chain, block, log
index), whole. It carried the fills by (chain, transaction, log index) instead, which no index
holds whole: on the complete-set arbitrageurs' world (tests/reputation/test_population_variants.py,
7,031 voided fills, most of them decisions after their token's close) the planner underestimated
them (3 rows) and read each one back by the primary key's prefix (chain, block <= the partitions'
bound, log index), filtering on the transaction: 5,271 + 10,380 rows for each fill, 58 M buffer
hits, 106.7 s of the statement's 106.7 s (docs/benchmarks.md "VOID's read of the voided fills").
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import line_sql, positions_sql
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.plans import nodes, plan_of
from tests.reputation.population import World, noise_taker


async def test_the_voided_fills_are_read_back_by_the_whole_primary_key(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=22, markets=40)
    for _ in range(6):
        noise_taker(w, w.new_wallet(), 20)
    late = [w.new_wallet() for _ in range(4)]
    for k, s in enumerate(w.specs[:24]):  # each buys the winner from stale orders once resolved
        w.take(s, s.resolves + 600, late[k % 4], s.winner, 100.0, price=0.60)
    await w.finish(pool)
    await pool.execute("VACUUM ANALYZE orderflow_trades")
    settings = ReputationSettings()
    async with pool.acquire() as conn, conn.transaction():
        as_of = datetime.now(UTC)
        await conn.execute(positions_sql.positions(stored=False), as_of)
        await conn.execute(positions_sql.ANALYZE)
        await conn.execute(WASH, as_of, *wash_settings(settings))
        await line_sql.keep_hosts(conn, "rep_wash")
        await conn.execute(ev.CLOSES, as_of, settings.clv_horizon)
        await conn.execute("ANALYZE rep_close")
        # the plan a mis-estimated, small set of voided fills gets on large trades: one read of
        # the trades a fill (a small table may well be read whole and hashed). Carried by
        # transaction, the read went by the transaction index here, by the primary key's prefix
        # on the arbitrageurs' world: neither the whole key.
        for switch in ("hashjoin", "mergejoin"):
            await conn.execute(f"SET LOCAL enable_{switch} = off")
        plan = await plan_of(conn, ev.VOID, as_of)
        assert await conn.fetchval("SELECT count(*) FROM rep_void") >= 4
    # the reads of one fill: the only reads of the trades with a condition on the log index
    trades = [
        n
        for n, _ in nodes(plan)
        if str(n.get("Relation Name", "")).startswith("orderflow_trades_p")
    ]
    reads = [n for n in trades if "log_index" in f"{n.get('Index Cond')} {n.get('Filter')}"]
    found = [(n.get("Index Name"), n.get("Index Cond"), n.get("Filter")) for n in trades]
    assert reads, found
    assert all(
        str(n.get("Index Name", "")).endswith("_pkey")
        and "block_number =" in str(n.get("Index Cond", ""))
        and "log_index =" in str(n.get("Index Cond", ""))
        for n in reads
    ), found
