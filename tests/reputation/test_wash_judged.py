"""WASH's off-market share is judged over the fills that can be judged.

A fill with no other wallet's trade in its market's bucket, the one before or the one after has
no prevailing price and is never off-market. Counted in the share's denominator, such fills hid
a showcase: in ``penny_pickers_0.97`` (seed 1, 30 days) one bought favourites at 0.50 from its
ring, 31 % of its volume in markets only the ring traded, and its off-market share was 0.218 of
all its volume -- 0.318 of what could be judged (docs/reputation.md "WASH").
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.population import Spec, World, noise_taker
from tests.reputation.test_cases import TOP, stats
from tests.reputation.test_incremental_run import close, persisted


def _alone(w: World, s: Spec, who: str, shares: float) -> None:
    """``who`` buys in market ``s`` just after it opens, from a new wallet, nobody else around."""
    w.take(s, s.opens + 60.0, who, 0, shares * 0.60, price=0.60, maker=w.new_wallet())


async def test_the_off_market_share_is_taken_over_the_judged_volume(pool: asyncpg.Pool) -> None:
    w = World(seed=29)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental

    showcase, partner, thin = w.new_wallet(), w.new_wallet(), w.new_wallet()
    specs = w.rng.sample(w.specs, len(w.specs))
    for s in specs[:5]:  # off-market: the winner at 0.50 from the partner, the market at 0.95
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, showcase, s.winner, 150.0, price=0.50, maker=partner)  # 300 shares
    for s in specs[5:10]:  # at the market's price, others trading around: 3000 shares
        t = s.resolves - 0.3 * (s.resolves - s.opens)
        q = s.price(t, 0)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), 0, 50.0, price=q)
        w.take(s, t, showcase, 0, 600.0 * q, price=q, maker=w.new_wallet())
    for s in specs[10:20]:  # alone in the market: 3000 shares nobody can judge
        _alone(w, s, showcase, 300.0)
    for s in specs[20:25]:  # the thin wallet: 6 % of its volume can be judged, all off-market
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, thin, s.winner, 50.0, price=0.50, maker=partner)  # 100 shares
    for s in specs[25:45]:
        _alone(w, s, thin, 400.0)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental

    # 1500 shares off-market: 0.2 of its 7500, 0.33 of the 4500 judged
    sc = await stats(pool, showcase)
    b = sc["factors"]["behaviour"]
    assert b["off_market_fills"] == 5, b
    assert abs(b["off_market_share"] - 1500 / 4500) < 0.01, b
    assert "WASH" in sc["flags"] and sc["trader_tier"] not in TOP, (sc["flags"], b)
    assert b["group_share"] < 0.5, b  # not a ring: the off-market rule alone
    # the partner holds 0.2 of the showcase's volume
    p = await stats(pool, partner)
    assert "WASH" in p["flags"] or "WASH_COUNTERPARTY" in p["flags"], p["flags"]
    # 500 of 8500 shares judged, all off-market: the denominator is never under half its volume
    th = await stats(pool, thin)
    tb = th["factors"]["behaviour"]
    assert tb["off_market_fills"] == 5, tb
    assert abs(tb["off_market_share"] - 500 / (0.5 * 8500)) < 0.01, tb
    assert "WASH" not in th["flags"], (th["flags"], tb)

    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
