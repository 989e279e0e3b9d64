"""``orderflow_wallet_scores`` (migration 024): the wallets' rows as the readers in the code read
them, for SQL readers. Every column equals what ``WALLET_STATS`` (``orderflow wallet``) reads for
the same wallet, the posterior figures included (NULL in the table for rows a run writes since
migration 022); a filter on the wallet is an index probe of the table, not a read of every row."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.wallet_sql import WALLET_STATS
from tests.reputation.population import World, edge_taker, noise_taker

_ONE = "SELECT * FROM orderflow_wallet_scores WHERE wallet_address = $1"


async def test_the_view_reads_each_wallet_as_the_code_does(pool: asyncpg.Pool) -> None:
    w = World(seed=67, markets=16, neg_risk_events=0, makers=2)
    for i in range(8):
        (edge_taker(w, w.new_wallet(), 8, 0.05) if i % 2 else noise_taker(w, w.new_wallet(), 8))
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    await run_reputation(pool)

    wallets = [r[0] for r in await pool.fetch("SELECT wallet_address FROM orderflow_wallet_stats")]
    assert len(wallets) >= 8
    stored_edges = 0
    for who in wallets:
        view = await pool.fetchrow(_ONE, who)
        code = await pool.fetchrow(WALLET_STATS, who)
        assert view is not None and code is not None
        for column, value in view.items():
            assert value == code[column], (who, column)
        stored_edges += await pool.fetchval(
            "SELECT edge IS NOT NULL FROM orderflow_wallet_stats WHERE wallet_address = $1", who
        )
        assert view["edge"] is not None and view["p_edge_above_cost"] is not None
    assert stored_edges == 0  # what the view is for: the table's edge is not the read one
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_scores") == len(wallets)


async def test_a_filter_on_the_wallet_probes_the_index(pool: asyncpg.Pool) -> None:
    # the planner would seq-scan tiny tables anyway: forbid it, and see whether it can do
    # without (it cannot if the filter lands on the function's output instead of the table)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch("EXPLAIN " + _ONE, "0x" + "ab" * 20))
    assert "orderflow_wallet_stats_pkey" in plan, plan
    assert "Seq Scan" not in plan, plan
