"""How many times the stored cells' statements read the trades (issue 14: the run's
work paid once).

``WASH``'s own second read of the sale rows was folded into its taker rows' read and planned
without merge joins on 7 Dec 2026, and reverted the same day: without merge joins the planner
chose a plan that ran for more than ten minutes on tests/reputation/test_population_variants.py's
worlds (its timeouts in the clean-clone CI).

The stored cells' statements (orderflow.reputation.wash_partials_sql: a build over every trade,
an hourly update over a region's) compute pass 2's prevailing prices for the cells; the taker
statement, which values the same buckets' sales against them, computed them again from the
trades (pass 1's sums, pass 2's market, its sums and prices). The cells statement now keeps them
(``rep_wash_ref2``) and the taker statement reads the trades for the wallets' own rows alone.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wash_region
from tests.reputation.population import World, wash_ring
from tests.reputation.test_cases import background


def _is_trades_scan(node: dict[str, Any]) -> bool:
    name = str(node.get("Relation Name", ""))
    return name.startswith("orderflow_trades") or name == "rep_wash_rows"  # a region's trades


def trade_reads(node: dict[str, Any]) -> int:
    """The reads of the trades in a JSON plan: an Append over its partitions is one read, and a
    partition scanned alone is one."""
    children = node.get("Plans", [])
    if _is_trades_scan(node):
        return 1
    if node.get("Node Type") in ("Append", "Merge Append") and any(
        _is_trades_scan(c) for c in children
    ):
        return 1 + sum(trade_reads(c) for c in children if not _is_trades_scan(c))
    return sum(trade_reads(c) for c in children)


async def test_the_taker_cells_read_pass_2_prices_kept(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The taker statement of a build and of an hourly update reads the trades twice (the
    wallets' sales against pass 2's prices the cells statement kept, their taker rows against
    the cells' fractions), not a third time to compute those prices again."""
    plans: list[tuple[str, int]] = []
    joined = wash_region.hash_joined

    async def explained(
        conn: asyncpg.Connection, statement: str, args: tuple[object, ...], region: bool = True
    ) -> None:
        if "CREATE TEMP TABLE rep_wash_tk " in statement:
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement, *args)
            plan = json.loads(plan) if isinstance(plan, str) else plan
            plans.append(("region" if region else "build", trade_reads(plan[0]["Plan"])))
        await joined(conn, statement, args, region)

    monkeypatch.setattr(wash_region, "hash_joined", explained)
    w = World(seed=52, markets=20, neg_risk_events=0)
    noise = background(w, wallets=8, events=12)
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    wash_ring(w, showcase, partners, 10)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    for _ in range(2):  # the first incremental run builds the cells, the next updates them
        for s in w.pick(2, binary_only=True):
            t = s.resolves - 0.04 * (s.resolves - s.opens)
            w.take(s, t - 400, w.new_wallet(), s.winner, 50.0, price=0.95)
            w.take(s, t, showcase, s.winner, 300.0, price=0.50, maker=partners[1])
            w.take(s, t + 60, noise[0], s.winner, 80.0)
        await w.chain.ingest(pool)
        assert (await run_reputation(pool)).incremental
    assert {kind for kind, _ in plans} == {"build", "region"}, plans
    assert [reads for _, reads in plans] == [2] * len(plans), plans
