"""The WASH statement gives the rows the previous one did: exactly but for the float8 sums.

``wash_reference.OLD_WASH`` is the statement before it was made cheaper (frozen; main's statement
before its sums were made exact gave its rows to the bit). Both run in one transaction on the
same ``rep_positions`` and trades. The current statement sums exactly (numeric) what the old one
summed as float8 in the plan's order, so its float columns may differ from the old ones in their
last bits, never more: every row is there in both, every other column is equal, every float
within a relative 1e-12 (:data:`REL`; a deviation that is rounding noise around 0 -- the old
float8 sums' -- within :data:`ABS`), and every decision the flags take from the row
(:mod:`orderflow.reputation.flags`: the thresholds, compared as they compare them) is the same.
The columns' types and collations are the old ones. Populations: the wash tests' rings,
off-market showcases, market makers and news takers, and randomized ones (a few wallets trading
with one another at market and off-market prices in crowded buckets), under the default settings
and under settings that exercise more paths (small buckets, a smaller group, fewer fills).

Prices on a tick grid put fills exactly at the off-market distance from the prevailing price
(0.10 from it: a tie). Whether such a fill counts follows the last bits of the float8 distance,
which the old statement took from sums in the plan's order (they moved with the plan: a tie
counted under one plan and not under another), the new one from the exact sums: the decisions on
ties may differ, once. So the statements are compared with the off-market distance a hair off
the price grid (:func:`off_grid`: 1e-9 above it, far beyond the old sums' noise), where no fill
ties; tests/reputation/test_wash_order.py checks that every decision, ties included, no longer
depends on the plan.
"""

from __future__ import annotations

import math
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
# The rows the old statement made: the new one also names, per (wallet, token), what its sales
# received above the prevailing prices (x_gr, x_tr; a row of its own where the wallet has no
# off-market taker amount there: off_tb and off_ts 0.0)
_AS_OLD = """SELECT {columns} FROM rep_wash
 WHERE token_id IS NULL OR off_tb > 0 OR off_ts > 0"""
REL = 1e-12  # the largest relative difference of a float column
ABS = 1e-15  # ... or absolute, for prices' distances (a few ulps of 1.0)
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


def off_grid(settings: ReputationSettings) -> ReputationSettings:
    """``settings`` with the off-market distance 1e-9 above its value: no fill sits there."""
    return settings.model_copy(update={"wash_deviation": settings.wash_deviation + 1e-9})


def decisions(row: asyncpg.Record, s: ReputationSettings) -> tuple[bool, ...]:
    """What orderflow.reputation.flags decides from a per-wallet row (NULL figures: 0), each
    threshold compared as it compares it."""

    def v(name: str) -> Any:
        return row[name] if row[name] is not None else 0

    return (
        v("share") >= s.wash_min_share,
        v("counterparty_share") >= s.wash_min_share,
        v("off_share") >= s.wash_off_share,
        v("host_share") >= s.wash_counterparty_min_share,
        v("off_fills") >= s.wash_min_fills,
        v("pair_fills") >= s.wash_min_fills,
    )


def largest_difference(
    new: list[asyncpg.Record], old: list[asyncpg.Record], s: ReputationSettings
) -> float:
    """Assert the rows the same but for the floats' last bits; the largest relative difference
    of a float column (0.0: every value the same)."""
    by_key = {(r["wallet_address"], r["token_id"]): r for r in old}
    assert len(by_key) == len(old) == len(new)
    worst = 0.0
    for n in new:
        key = (n["wallet_address"], n["token_id"])
        o = by_key[key]
        assert decisions(n, s) == decisions(o, s), (key, dict(n), dict(o))
        for column, x in n.items():
            y = o[column]
            if not isinstance(x, float) or not isinstance(y, float):
                assert x == y, (key, column, x, y)
                continue
            assert not (math.isnan(x) or math.isnan(y)), (key, column)
            if x == y:
                continue
            diff = abs(x - y)
            relative = diff / max(abs(x), abs(y))
            assert relative <= REL or (column == "deviation" and diff <= ABS), (key, column, x, y)
            worst = max(worst, relative if diff > ABS else 0.0)
    return worst


async def compare(pool: asyncpg.Pool, settings: ReputationSettings) -> dict[str, Any]:
    """Run both statements (off the price grid); assert the rows the same but for the last bits
    of their floats; return what the rows hold and the largest relative difference."""
    settings = off_grid(settings)
    args = wash_settings(settings)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
        now = await conn.fetchval("SELECT now()")
        await conn.execute(THIN_POSITIONS)
        await conn.execute("ANALYZE rep_positions")
        await conn.execute(OLD_WASH, now, *args)
        await conn.execute("ALTER TABLE rep_wash RENAME TO rep_wash_old")
        await conn.execute(WASH, now, *args)
        columns = await conn.fetch(COLUMNS, "rep_wash_old")
        now_columns = await conn.fetch(COLUMNS, "rep_wash")
        assert now_columns[: len(columns)] == columns
        assert [tuple(c)[:2] for c in now_columns[len(columns) :]] == [
            ("x_gr", "double precision"),
            ("x_tr", "double precision"),
        ]
        worst = largest_difference(
            await conn.fetch(_AS_OLD.format(columns=", ".join(c[0] for c in columns))),
            await conn.fetch("SELECT * FROM rep_wash_old"),
            settings,
        )
        row = await conn.fetchrow(
            """SELECT count(*) AS rows, count(n.counterparty) AS groups, count(n.host) AS hosted,
                      count(*) FILTER (WHERE n.off_fills > 0) AS off_market,
                      count(*) FILTER (WHERE n.counterparty_share > 0) AS closed,
                      count(n.off_tb) AS off_tokens,
                      count(*) FILTER (WHERE n.deviation IS DISTINCT FROM o.deviation
                                          OR n.off_tb IS DISTINCT FROM o.off_tb) AS moved
                 FROM rep_wash n
                 LEFT JOIN rep_wash_old o ON o.wallet_address = n.wallet_address
                  AND o.token_id IS NOT DISTINCT FROM n.token_id"""
        )
        assert row is not None
        return {**dict(row), "worst": worst}


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
    for settings in SETTINGS.values():
        seen = await compare(pool, settings)
        # the comparison covers every part: groups, closed groups, off-market fills, hosts, the
        # off-market part of taker rows; and some floats moved in their last bits
        assert all(v > 0 for k, v in seen.items() if k != "worst"), seen
        assert seen["worst"] < REL, seen


@pytest.mark.parametrize("seed", [5, 6, 7])
async def test_random_populations_give_the_old_rows(pool: asyncpg.Pool, seed: int) -> None:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    await w.finish(pool)
    seen = [await compare(pool, settings) for settings in SETTINGS.values()]
    assert all(sum(s[k] for s in seen) > 0 for k in ("groups", "off_market", "hosted")), seen
    assert sum(s["moved"] for s in seen) > 0, seen
