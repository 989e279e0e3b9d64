"""An off-market fill is no exit of a decision either.

docs/reputation.md ("Off-market fills do not feed the edge"): "A price nobody else paid around
the fill is no evidence of skill, flagged or not" -- so the share of a wallet's *taker* matches
that pass 2 found off-market is taken out of its taker amounts (``rep_wash``'s per-token
``off_*``). But what a taker buy *realized* (``exited``, ``exit_price``: "the average exit price
for the fraction sold before resolution") is made of every fill of the position, maker or taker,
less only ``rep_void``'s fills (after the resolution, against oneself): a sale at a price nobody
else paid was still an exit of the decision.

So a coin flip bought at the market, 30 % of it then sold at 0.99 to a fresh burner wallet (one
per market, one fill each: never WASH itself, never anybody's wash host) while everybody else
trades the token near even money, reads as an edge of about +0.25 a dollar. The wallet's
off-market share (0.3 / 1.3 = 0.23 of its judged shares) stays under WASH's 0.25, so nothing
flags it. The operator's money only moved from the burners to the showcase. It read WHALE 8.83
(P 0.999, outcome edge +0.28, closing-line +0.22 a dollar; +0.018 held to the end).

Closed: an exit is valued at no more than the highest prevailing price around it
(orderflow.reputation.wash_exits_sql; rep_wash's x_gr: the 0.99 sales count at the others'
price): AVERAGE 4.19, outcome edge +0.013 (the control: AVERAGE 4.18, +0.006).
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.gaming_world import coin_flips_then, takers_world, tier_detail
from tests.reputation.population import Spec
from tests.reputation.test_cases import TOP, stats


@pytest.mark.parametrize(
    "staged",
    [
        pytest.param(False, id="control"),
        pytest.param(True, id="staged"),
    ],
)
async def test_a_sale_at_a_price_nobody_else_paid_is_no_exit_of_a_decision(
    pool: asyncpg.Pool, staged: bool
) -> None:
    """Control: the burners pay the market's price (not top). Staged: they pay 0.99."""
    w = takers_world()
    me = w.new_wallet()

    def sold(s: Spec, side: int, t: float, shares: float) -> None:
        # a fresh burner lifts the wallet's resting ask for 30 % of it at 0.99
        burner, ask = w.new_wallet(), 0.99 if staged else s.price(t, side)
        w.chain.trade(s.market, t + 120, burner, "BUY", side, round(0.3 * shares, 2), ask, me)

    n, held = coin_flips_then(w, me, 60, sold)
    assert n >= 40, n
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, me)
    behaviour = s["factors"]["behaviour"]
    # the wash check sees the sales off-market, but under its share: no flag
    assert behaviour["off_market_fills"] == (n if staged else 0), behaviour
    assert behaviour["off_market_share"] < 0.25, behaviour
    assert s["flags"] == [], s["flags"]
    assert held.per_dollar < 0.05, held.per_dollar  # no edge held to the end
    # the exits are worth what the market paid around them: no edge either way
    assert s["factors"]["posterior"]["outcome_edge"] < 0.05, tier_detail(s, held)
    assert s["trader_tier"] not in TOP, tier_detail(s, held)
