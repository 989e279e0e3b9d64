"""A run at the present keeps the stored ``rep_void`` row of a key whose fills were detached
(``detached_void.KEEP``); it counts a key's fills in the trades only for the keys whose computed
row is missing or below the stored one. Inlined, the planner put that count under the join of the
stored rows with the positions, before the test: one count of the wallet's fills per stored row,
whatever was detached (at 1 M wallets, 62,938 counts and 11.8 s of an hourly run that kept no row;
docs/benchmarks.md). With nothing detached, no count runs."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from orderflow.reputation import detached_void, positions_sql, run_reputation
from orderflow.reputation import evidence_sql as ev
from orderflow.reputation.detached_lines import CLOSES
from tests.plans import Node, nodes, plan_of
from tests.reputation.population import World, noise_taker


def _subplan_loops(plan: Node) -> list[int]:
    """Every subplan's loops in an executed plan, depth first."""
    return [
        int(node.get("Actual Loops", 0))
        for node, _ in nodes(plan)
        if node.get("Parent Relationship") == "SubPlan"
    ]


async def test_nothing_detached_counts_no_keys_fills(pool: asyncpg.Pool) -> None:
    w = World(seed=22, markets=40)
    for _ in range(6):
        noise_taker(w, w.new_wallet(), 20)
    late = [w.new_wallet() for _ in range(4)]
    for k, s in enumerate(w.specs[:24]):  # each buys the winner from stale orders once resolved
        w.take(s, s.resolves + 600, late[k % 4], s.winner, 100.0, price=0.60)
    await w.finish(pool)
    await run_reputation(pool, full=True)  # stores every key's voided amounts
    async with pool.acquire() as conn, conn.transaction():
        stored = await conn.fetchval(f"SELECT count(*) FROM {detached_void.VOIDS}")
        assert stored >= 24
        as_of = datetime.now(UTC)
        await conn.execute(
            "CREATE TEMP TABLE rep_dirty_wallets ON COMMIT DROP AS"
            f" SELECT DISTINCT wallet_address FROM {detached_void.VOIDS}"
        )
        only = "a.wallet_address IN (SELECT wallet_address FROM rep_dirty_wallets)"
        await conn.execute(positions_sql.positions(stored=True, only=only), as_of)
        await conn.execute(positions_sql.ANALYZE)
        await conn.execute(  # their closing lines, as the incremental run reads them
            "CREATE TEMP TABLE rep_close ON COMMIT DROP AS"
            f" SELECT * FROM {CLOSES} WHERE token_id IN (SELECT token_id FROM rep_positions)"
        )
        await conn.execute(ev.VOID, as_of)
        assert await conn.fetchval("SELECT count(*) FROM rep_void") == stored
        plan = await plan_of(conn, detached_void.KEEP, as_of)
        assert _subplan_loops(plan) == [0], _subplan_loops(plan)  # the count: never run
        assert await conn.fetchval("SELECT count(*) FROM rep_void") == stored  # nothing kept
