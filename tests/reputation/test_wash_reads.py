"""How many times the full ``WASH`` reads the trades (issue 14: the run's work paid once).

``WASH`` (orderflow.reputation.wash_sql) needs the trades for two things: the maker rows naming a
counterparty (``f``: the pairs, both passes' prevailing prices) and each wallet's own rows against
pass 2's prices -- its taker rows' off-market part (``offtake``) and what its sales received above
the prevailing prices (``xs``: orderflow.reputation.wash_exits_sql). The second is one read of the
rows either needs, joined once with pass 2's prices: a read of its own for the sales went over
every sale row a second time (on the benchmark's 2 M trades, 500,000 sale rows keyed, sorted and
merge-joined: most of the statement where no counterparty is named). The rows are the same
(tests/reputation/test_wash_identity.py, test_wash_order.py, test_gaming_*_exits.py).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from orderflow.reputation import evidence_sql as ev
from orderflow.reputation import positions_sql
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.wash_sql import wash_settings
from tests.reputation.population import World, noise_taker, wash_pair


def _is_trades_scan(node: dict[str, Any]) -> bool:
    return str(node.get("Relation Name", "")).startswith("orderflow_trades")


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


async def test_wash_reads_the_trades_twice(pool: asyncpg.Pool) -> None:
    w = World(seed=83, markets=10, neg_risk_events=0, makers=2)
    for _ in range(4):
        noise_taker(w, w.new_wallet(), 6)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 4)
    for s in w.specs[:5]:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(positions_sql.positions(stored=False), as_of)
        await conn.execute(positions_sql.ANALYZE)
        args = (as_of, *wash_settings(ReputationSettings()))
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + ev.WASH, *args)
        plan = json.loads(plan) if isinstance(plan, str) else plan
        await conn.execute(ev.WASH, *args)
        assert await conn.fetchval("SELECT count(*) FROM rep_wash") > 0
    # the maker rows naming a counterparty; a wallet's own rows against pass 2's prices
    assert trade_reads(plan[0]["Plan"]) == 2
