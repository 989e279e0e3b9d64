"""Off-market fills do not feed the edge, built as raw chain logs and scored by the real run.

An honest taker (market prices, no edge) also buys five winners at 0.50 from a partner while the
market trades them at 0.95: a few per cent of its volume, not WASH, but +1 a dollar on those
buys. The run must value only its honest decisions.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.population import HALF_SPREAD, World
from tests.reputation.test_cases import background, stats


async def test_off_market_fills_give_no_edge(pool: asyncpg.Pool) -> None:
    w = World(seed=41)
    background(w, wallets=20, events=40)
    honest, partner = w.new_wallet(), w.new_wallet()
    specs = w.pick(45, binary_only=True)
    value = stake = 0.0
    for s in specs[:40]:  # honest decisions, valued as the run values them (no fees)
        t = s.time(w.rng, early=True)
        outcome = w.rng.randrange(2)
        q = min(0.99, s.price(t, outcome) + HALF_SPREAD)
        shares = round(250.0 / q, 2)
        w.take(s, t, honest, outcome, 250.0, price=q)
        value += shares * ((1.0 if outcome == s.winner else 0.0) - q)
        stake += shares * q
    inflated = value, stake
    for s in specs[40:]:  # the staged ones: winners at 0.50 from the partner, market at 0.95
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, honest, s.winner, 150.0, price=0.50, maker=partner)
        inflated = inflated[0] + 300.0 * 0.50, inflated[1] + 300.0 * 0.50
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, honest)
    behaviour, post = s["factors"]["behaviour"], s["factors"]["posterior"]
    assert "WASH" not in s["flags"] and behaviour["off_market_share"] < 0.25, behaviour
    assert behaviour["off_market_fills"] == 5
    assert s["events_resolved"] == 40  # the staged buys are no events
    assert abs(post["outcome_edge"] - value / stake) < 1e-6, (post, value / stake)
    # ... which they would have inflated
    assert inflated[0] / inflated[1] - value / stake > 0.05


async def test_a_fill_exactly_the_off_market_distance_away_is_off_market(
    pool: asyncpg.Pool,
) -> None:
    """Prices sit on a tick grid, so a fill exactly ``wash_deviation`` (0.10) from the
    prevailing price happens. ">=" counts it, whatever the two prices' binary fractions: in
    float8 0.30 - 0.20 is 0.09999999999999998 and 0.55 - 0.45 is 0.10000000000000003, so a
    float8 comparison counted the second pair and not the first."""
    w = World(seed=43)
    background(w, wallets=20, events=40)
    taker, partner = w.new_wallet(), w.new_wallet()
    specs = w.pick(6, binary_only=True)
    for s, (market, fill) in zip(specs, [(0.30, 0.20)] * 3 + [(0.45, 0.55)] * 3, strict=True):
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):  # the others trade outcome 0 at the market price
            w.take(s, t + dt, w.new_wallet(), 0, 50.0, price=market)
        w.take(s, t, taker, 0, 40.0, price=fill, maker=partner)
    await w.finish(pool)
    await run_reputation(pool)

    behaviour = (await stats(pool, taker))["factors"]["behaviour"]
    assert behaviour["off_market_fills"] == 6, behaviour
    assert abs(behaviour["price_deviation"] - 0.10) < 1e-15, behaviour
