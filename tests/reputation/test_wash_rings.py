"""Wash rings larger than three, and the honest closed groups WASH must not take for one.

A ring churns volume among its members at the market's price, as the third world's does: one
member buys from a second and, a while later, sells the shares to a third (tests/reputation/
thirdworld.py ``_wash``). In a ring of n each member trades with the n - 1 others about evenly:
its top ``wash_top_k`` (3) counterparties hold 3 / (n - 1) of its volume and trade only part of
their own with its group, so rings of 10 and 20 were not WASH; they are by their larger ring
(orderflow.reputation.wash_ring_sql: its partners that trade a share of their own volume with it,
closed among themselves without it).

A thin market's honest traders are a closed group too: nobody else trades there, so they meet
only one another. They buy their views from one another (two buyers of opposite outcomes: the
exchange mints the pair) and hold them to the resolution; a ring's members trade back what they
buy (``wash_min_round_trip``). A group of four such traders was WASH before that condition.

A few market makers that bet against one another's quotes are a closed group in shares, and a
maker quoting both sides trades back what it buys: WASH by the ring rule (a strict xfail).
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.explain import live_factors
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import HALF_SPREAD, World, noise_taker
from tests.reputation.test_cases import background, stats


def churn(w: World, ring: list[str], rounds: int, usd: float = 400.0) -> None:
    """``rounds`` round trips: a member buys from a second (minting the pair) and sells the
    shares to a third an hour or a few later, at the market's price each time."""
    for _ in range(rounds):
        a, b, c = w.rng.sample(ring, 3)
        s = w.rng.choice(w.specs)
        t = s.time(w.rng)
        outcome = w.rng.randrange(2)
        q = s.price(t, outcome)
        shares = round(usd / q, 2)
        w.chain.trade(s.market, t, a, "BUY", outcome, shares, q, b, mint=True)
        t2 = min(s.resolves - 60, t + w.rng.uniform(3600, 4 * 3600))
        w.chain.trade(s.market, t2, c, "BUY", outcome, shares, s.price(t2, outcome), a)


def thin_market_traders(w: World, group: list[str], markets: int, trades: int) -> None:
    """``markets`` new markets only ``group`` trades: each member has a view on each (an
    outcome) and buys it, ``trades`` times a market in all, from a member with the other view
    (who buys the complement: the exchange mints the pair), holding to the resolution."""
    for _ in range(markets):
        w._add(w.rng.uniform(0.2, 0.8))
        s = w.specs[-1]
        views = {who: w.rng.randrange(2) for who in group}
        if len(set(views.values())) < 2:
            views[group[0]] = 1 - views[group[1]]
        for _ in range(trades):
            taker = w.rng.choice(group)
            makers = [m for m in group if views[m] != views[taker]]
            t = s.time(w.rng)
            q = min(0.99, s.price(t, views[taker]) + HALF_SPREAD)
            shares = round(w.rng.uniform(100, 400) / q, 2)
            w.chain.trade(
                s.market, t, taker, "BUY", views[taker], shares, q, w.rng.choice(makers), mint=True
            )


async def test_rings_of_five_ten_and_twenty_are_wash(pool: asyncpg.Pool) -> None:
    w = World(seed=41)
    background(w)
    rings = {n: [w.new_wallet() for _ in range(n)] for n in (5, 10, 20)}
    for n, ring in rings.items():
        churn(w, ring, 30 * n)
    await w.finish(pool)
    await run_reputation(pool)
    wash = {}
    for n, ring in rings.items():
        wash[n] = sum(["WASH" in (await stats(pool, m))["flags"] for m in ring])
    assert wash == {n: n for n in rings}


async def test_thin_market_traders_are_not_wash(pool: asyncpg.Pool) -> None:
    """Groups of 4, 8 and 16 honest wallets, each the only traders of ten thin markets (a niche
    community: closed, across many markets), and takers of the world's market makers."""
    w = World(seed=42)
    background(w)
    groups = [[w.new_wallet() for _ in range(n)] for n in (4, 8, 16)]
    for group in groups:
        thin_market_traders(w, group, 10, 6 * len(group))
    takers = [w.new_wallet() for _ in range(5)]
    for who in takers:
        noise_taker(w, who, 40)
    await w.finish(pool)
    # Without the round-trip condition the group of four is a closed ring of WASH wallets.
    await run_reputation(pool, settings=ReputationSettings(wash_min_round_trip=0.0))
    rows = [await stats(pool, m) for m in groups[0]]
    assert all("WASH" in r["flags"] for r in rows), [r["factors"]["behaviour"] for r in rows]
    await run_reputation(pool)
    flagged = {}
    for who in [*(m for g in groups for m in g), *takers, *w.maker_wallets]:
        s = await stats(pool, who)
        hit = {"WASH", "WASH_COUNTERPARTY"} & set(s["flags"])
        if hit:
            flagged[who] = (sorted(hit), s["factors"]["behaviour"])
    assert flagged == {}


async def test_the_replay_reads_the_run_s_round_trips(pool: asyncpg.Pool) -> None:
    """``orderflow wallet``'s replay computes the round trips from its own positions: the same
    figure, to the bit, shown in both JSONs (migration 082), and the same flags as the run (a
    ring of five: WASH; a thin market's four holders: not)."""
    w = World(seed=43)
    noise = background(w, wallets=5)
    ring = [w.new_wallet() for _ in range(5)]
    churn(w, ring, 150)
    group = [w.new_wallet() for _ in range(4)]
    thin_market_traders(w, group, 10, 24)
    await w.finish(pool)
    await run_reputation(pool)
    for who in [*ring, *group, *noise, *w.maker_wallets]:
        s = await stats(pool, who)
        stored = await pool.fetchval(
            "SELECT wash_round_trip FROM orderflow_reputation_inputs WHERE wallet_address = $1",
            who,
        )
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=s)
        assert float(report.inputs.wash_round_trip[0]) == stored, who
        # shown beside WASH's other figures, in the row's JSON as in the replay's (migration 082)
        assert s["factors"]["behaviour"]["round_trip"] == stored, who
        assert live_factors(report)["behaviour"]["round_trip"] == stored, who
        assert report.scores.flag_names()[0] == list(s["flags"]), who
        assert ("WASH" in s["flags"]) == (who in ring), (who, s["factors"]["behaviour"], stored)


@pytest.mark.xfail(
    strict=True,
    reason="the ring rule reads shares: five makers whose own long-shot bets cross one another's "
    "quotes hold 0.67-0.75 of one another's shares, closed 0.57-0.70, round trips 0.20-0.30 "
    "(quoting both sides nets): 4 of 5 WASH, 1 WASH_COUNTERPARTY, none off-market; what a member "
    "keeps of its group's trades does not separate them (seeds 44-46: in-group round trip "
    "0.09-0.40 against a churned ring's 0.17-0.83, docs/reputation.md 'Per-member evidence "
    "measured')",
)
async def test_makers_crossing_one_another_s_quotes_are_not_wash(pool: asyncpg.Pool) -> None:
    """The newsworld's makers WASH (docs/reputation.md "The newsworld's makers are WASH"): five
    makers quote forty takers and also bet, as takers without a view, on the cheaper outcome of
    forty markets each (300-1,500 USDC at the market's price and half spread) against one
    another's quotes, holding to the resolution. Cheap outcomes buy many shares, so in shares each
    maker's top three counterparties are other makers; every fill is at the market's price."""
    w = World(seed=44, makers=5)
    background(w, wallets=40, events=30)
    for m in w.maker_wallets:
        others = [x for x in w.maker_wallets if x != m]
        for s in w.pick(40):
            t = s.time(w.rng)
            cheap = 0 if s.price(t, 0) < 0.5 else 1
            w.take(s, t, m, cheap, w.rng.uniform(300, 1500), maker=w.rng.choice(others))
    await w.finish(pool)
    await run_reputation(pool)
    flagged = {}
    for m in w.maker_wallets:
        s = await stats(pool, m)
        assert "MARKET_MAKER" in s["flags"], s["flags"]
        hit = {"WASH", "WASH_COUNTERPARTY"} & set(s["flags"])
        if hit:
            flagged[m] = (sorted(hit), s["factors"]["behaviour"])
    assert flagged == {}
