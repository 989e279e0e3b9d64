"""An incremental run assembles the counterparty rows of the wallets that can have changed
(``rep_wash_c``) from the stored share volumes of the wallets those rows read (``rep_wash_u``),
not from every wallet's: the assembly's ``tot`` read every row of ``orderflow_wash_wallets``
and sorted them all for its hosts' window, whatever the change (at 100,000 wallets ≈ 0.1 s of
a 2 % change's run, growing with the population: docs/benchmarks.md "The hourly run's
population-wide reads"). The rows are the same: the incremental-against-full tests
(``test_incremental_wash.py``, ``test_wash_state*.py``) compare them."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import ReputationSettings, run_reputation, wash_state, wash_tot
from orderflow.reputation import wash_partials_sql as sql
from orderflow.reputation.changes import claim_changes
from orderflow.reputation.stored_inputs import WASH
from orderflow.reputation.wash_assemble import _closure
from orderflow.reputation.wash_sql import wash_settings
from tests.plans import Node, nodes, plan_of
from tests.reputation.population import World, noise_taker

# wallets with a stored share volume and nothing else (no pair, no position): they stand for the
# population an hourly change does not touch, and give the table the size where its plans are
# the ones a real population gets (addresses spread over the key space, as real ones are)
_PADDING = """
INSERT INTO orderflow_wash_wallets (w, tot, ref1, p1n, p1v, off1, ref2, s2, sd2, p2n, p2v)
SELECT '0x' || substr(md5('pad' || g) || md5('dap' || g), 1, 40), 100, false, NULL, NULL,
       false, false, NULL, NULL, NULL, NULL
  FROM generate_series(1, $1::int) g
"""


def _tot_reads(plan: Node) -> int:
    """Rows the plan's ``tot`` CTE read from ``orderflow_wash_wallets`` (kept or filtered out):
    per loop the rows (an average), in all those a filter removed."""
    return sum(
        node["Actual Rows"] * node.get("Actual Loops", 1) + node.get("Rows Removed by Filter", 0)
        for node, under in nodes(plan)
        if "CTE tot" in under and node.get("Relation Name") == "orderflow_wash_wallets"
    )


async def test_an_update_assembles_from_the_share_volumes_of_its_closure(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=93, markets=12, neg_risk_events=0, makers=2)
    wallets = [w.new_wallet() for _ in range(60)]
    for who in wallets:
        noise_taker(w, who, 3)
    await w.finish(pool)
    await run_reputation(pool, full=True)
    s = w.pick(1, binary_only=True)[0]
    w.take(s, s.opens + 0.5 * (s.resolves - s.opens), wallets[0], 0, 80.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).copy_cells == "rebuilt"  # the cells built
    world = await pool.fetchval("SELECT count(*) FROM orderflow_wash_wallets")
    padding = 20_000
    await pool.execute(_PADDING, padding)
    await pool.execute("ANALYZE orderflow_wash_wallets")
    w.take(s, s.opens + 0.6 * (s.resolves - s.opens), wallets[1], 1, 60.0)
    await w.chain.ingest(pool)
    settings = ReputationSettings()
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await claim_changes(conn, as_of)
        assert await wash_state.update(
            conn, as_of, settings, "SELECT wallet_address FROM rep_dirty_keys"
        )
        max_id = await conn.fetchval("SELECT last_id FROM orderflow_wash_state")
        args = (as_of, *wash_settings(settings), max_id)
        await _closure(conn, args, WASH)  # rep_wash_c and rep_wash_u, as the run's assembly
        closure = await conn.fetchval("SELECT count(*) FROM rep_wash_u")
        statement = sql.assemble(
            "w IN (SELECT w FROM rep_wash_u)", "w IN (SELECT w FROM rep_wash_c)", wash_tot.STORED
        )
        read = _tot_reads(await plan_of(conn, statement, *args))
    assert 0 < closure < world
    # the share volumes of the closure's wallets (a merge join in address order may pass over a
    # few of the world's others, whose addresses sort before the padding's, and stop at the next
    # row), not the 20,000 others'
    assert read <= world + 1, (read, closure, world, padding)
