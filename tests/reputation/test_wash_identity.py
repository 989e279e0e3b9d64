"""The WASH statement gives the rows the previous one did, to the last bit.

``wash_reference.OLD_WASH`` is the statement before it was made cheaper (frozen). Both run in one
transaction on the same ``rep_positions`` and trades, and their ``rep_wash`` rows are compared
with EXCEPT ALL both ways (every column: float8 ones compared exactly), together with the
columns' types and collations. The parts that sum float8 values must also be planned as before
(the plan decides the order of the sums; a small population may give the same rows under
another plan, a large one would not). Populations: the wash tests' rings, off-market
showcases, market makers and news takers, and randomized ones (a few wallets trading with one
another at market and off-market prices in crowded buckets), under the default settings and
under settings that exercise more paths (small buckets, a smaller group, fewer fills).
"""

from __future__ import annotations

import json
import random
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import (
    HALF_SPREAD,
    World,
    news_taker,
    noise_taker,
    round_trip_ring,
    skilled_taker,
    wash_pair,
    wash_ring,
)
from tests.reputation.test_cases import background
from tests.reputation.test_wash_counterparty import make_markets
from tests.reputation.wash_reference import OLD_WASH

# the thin rep_positions the incremental run gives WASH (its share volume only, from the sums)
THIN_POSITIONS = """
CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address
"""
COLUMNS = """
SELECT attname, atttypid::regtype::text, attcollation FROM pg_attribute
 WHERE attrelid = $1::regclass AND attnum > 0 ORDER BY attnum
"""
# The parts that sum float8 values (and what they read): their plans decide the order the sums
# are taken in, so the new statement must plan them as the old one did. Compared: node types,
# strategies, join types and row estimates (not sort keys, which carry COLLATE "C" in pass 1);
# of pass 1 (off1), which sums float8 only in its bucket sums and otherwise takes min() and
# exact sums, its row estimate and those sums' plans.
FLOAT_PARTS = ("CTE f", "CTE inv", "CTE wb", "CTE off1", "CTE clean", "CTE wb2", "CTE dev2",
               "CTE off", "offtok")  # fmt: skip
SETTINGS = {
    "default": ReputationSettings(),
    "tight": ReputationSettings(
        wash_window_secs=1200,
        wash_top_k=2,
        wash_min_fills=2,
        wash_deviation=0.05,
        wash_off_share=0.1,
        wash_min_share=0.3,
    ),
}


def _shape(node: dict[str, Any]) -> tuple[Any, ...]:
    name = node.get("Subplan Name", "")
    return (
        node["Node Type"],
        node.get("Strategy"),
        node.get("Join Type"),
        node.get("Parent Relationship"),
        node["Plan Rows"],
        name if name.startswith("CTE") else None,
        tuple(_shape(c) for c in node.get("Plans", [])),
    )


def _sums(node: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The aggregations reading a CTE directly under ``node`` (pass 1's bucket sums)."""
    children = node.get("Plans", [])
    own = (
        [_shape(node)]
        if node["Node Type"] == "Aggregate" and [c["Node Type"] for c in children] == ["CTE Scan"]
        else []
    )
    return own + [s for c in children for s in _sums(c)]


def _parts(node: dict[str, Any], out: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    name = node.get("Subplan Name", "") or node.get("Alias", "")
    if name == "CTE off1":  # pass 1: its row estimate and its float8 sums (the rest is min())
        out[name] = (node["Plan Rows"], tuple(_sums(node)))
    elif name in FLOAT_PARTS:
        out[name] = _shape(node)
    for child in node.get("Plans", []):
        _parts(child, out)
    return out


async def float_plans(conn: asyncpg.Connection, statement: str, *args: Any) -> dict[str, Any]:
    raw = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *args)
    plan = raw if isinstance(raw, list) else json.loads(raw)  # the pool may decode json
    return _parts(plan[0]["Plan"], {})


async def compare(pool: asyncpg.Pool, settings: ReputationSettings) -> dict[str, int]:
    """Run both statements; assert equal rows and columns; return what the rows hold."""
    args = wash_settings(settings)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
        now = await conn.fetchval("SELECT now()")
        await conn.execute(THIN_POSITIONS)
        await conn.execute("ANALYZE rep_positions")
        old_plans = await float_plans(conn, OLD_WASH, now, *args)
        assert {"CTE f", "CTE off1", "CTE dev2", "CTE off", "offtok"} <= set(old_plans)
        assert await float_plans(conn, WASH, now, *args) == old_plans
        await conn.execute(OLD_WASH, now, *args)
        await conn.execute("ALTER TABLE rep_wash RENAME TO rep_wash_old")
        await conn.execute(WASH, now, *args)
        assert await conn.fetch(COLUMNS, "rep_wash") == await conn.fetch(COLUMNS, "rep_wash_old")
        diff = await conn.fetch(
            """(SELECT 'new' AS only_in, * FROM rep_wash
                EXCEPT ALL SELECT 'new', * FROM rep_wash_old)
               UNION ALL
               (SELECT 'old', * FROM rep_wash_old EXCEPT ALL SELECT 'old', * FROM rep_wash)"""
        )
        assert not diff, [dict(r) for r in diff[:6]]
        row = await conn.fetchrow(
            """SELECT count(*) AS rows, count(counterparty) AS groups, count(host) AS hosted,
                      count(*) FILTER (WHERE off_fills > 0) AS off_market,
                      count(*) FILTER (WHERE counterparty_share > 0) AS closed,
                      count(off_tb) AS off_tokens
                 FROM rep_wash"""
        )
        assert row is not None
        return dict(row)


def wash_population(w: World) -> None:
    """The wash tests' behaviours in one world."""
    noise = background(w)
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    wash_ring(w, showcase, partners, 24)
    make_markets(w, partners[0], noise, 120, 400.0)
    wash_pair(w, w.new_wallet(), w.new_wallet(), 12)
    round_trip_ring(w, [w.new_wallet() for _ in range(4)], 20)
    news_taker(w, w.new_wallet(), 12)
    skilled_taker(w, w.new_wallet(), 30, 0.1)
    for who in noise[:3]:  # a few fills off the market with the showcase
        s = w.pick(1, binary_only=True)[0]
        w.take(s, s.time(w.rng), showcase, s.winner, 80.0, price=0.5, maker=who)


def random_population(w: World, wallets: int, trades: int) -> None:
    """A few wallets trading with one another, clustered in time (crowded buckets) in a few
    markets, at the market price or anywhere, as takers and makers, buying and selling."""
    rng = random.Random(w.seed)
    who = [w.new_wallet() for _ in range(wallets)]
    for who_ in who[: wallets // 2]:
        noise_taker(w, who_, 5)
    specs = w.pick(8)
    for _ in range(trades):
        s = rng.choice(specs)
        t = s.opens + (s.resolves - s.opens) * rng.choice((0.3, 0.5, 0.7)) + rng.uniform(0, 9000)
        taker, maker = rng.sample(who, 2)
        outcome = rng.randrange(2)
        market = min(0.99, s.price(t, outcome) + HALF_SPREAD)
        price = market if rng.random() < 0.6 else round(rng.uniform(0.02, 0.98), 2)
        shares = round(rng.choice((10.0, 50.0, 200.0, 1000.0)) * rng.uniform(0.5, 1.5), 2)
        if rng.random() < 0.7:
            w.chain.trade(s.market, t, taker, "BUY", outcome, shares, price, maker, mint=True)
        else:
            w.chain.trade(s.market, t, taker, "BUY", outcome, shares, price, maker, mint=True)
            w.chain.trade(s.market, t + rng.uniform(1, 400), taker, "SELL", outcome, shares,
                          price, maker)  # fmt: skip


async def test_wash_populations_give_the_old_rows(pool: asyncpg.Pool) -> None:
    w = World(seed=41)
    wash_population(w)
    await w.finish(pool)
    seen = await compare(pool, SETTINGS["default"])
    # the comparison covers every part: groups, closed groups, off-market fills, hosts, the
    # off-market part of taker rows
    assert all(v > 0 for v in seen.values()), seen
    seen = await compare(pool, SETTINGS["tight"])
    assert all(v > 0 for v in seen.values()), seen


@pytest.mark.parametrize("seed", [5, 6, 7])
async def test_random_populations_give_the_old_rows(pool: asyncpg.Pool, seed: int) -> None:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    await w.finish(pool)
    seen = [await compare(pool, settings) for settings in SETTINGS.values()]
    assert all(sum(s[k] for s in seen) > 0 for k in ("groups", "off_market", "hosted")), seen
