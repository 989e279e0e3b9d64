"""A sale to a partner just under the off-market distance is an exit no follower can have.

docs/reputation.md ("Position accounting", *Decisions*): a taker buy is worth x x (the average
exit price for the fraction sold before resolution, y for the rest) - what it paid. The exit
price is whatever the wallet's sells received, at any price a fresh partner wallet is willing to
pay, as long as it stays under WASH's ``wash_deviation`` (0.10) from the prevailing price: such a
fill is not off-market, so nothing takes it out of the exits, nor out of the closing-line value
(``HELD_LINE_SQL``: a sold share's line is its exit price).

A coin flip bought at the market (about 0.51), all of it then sold 0.09 above the market into
a fresh burner wallet's resting bid (one per market, one fill each: never WASH itself, never
anybody's wash host), reads as about +0.15 a dollar on every decision, with no variance: the
closing line's null variance x^2 (q(1-q) - c(1-c)) is about 0 for an exit at 0.60 after an
entry at 0.51, and its sample variance is 0, so its standard error sits at the floor (0.35 x
the outcome's). The operator's money only moved from the burners to the showcase; a follower
buying with it and holding (or selling into the real book) earns nothing. It read WHALE 9.31
(P 0.999, +0.15 a dollar at the standard error's floor; +0.018 held to the end).

Closed: an exit is valued at no more than the highest prevailing price around it
(orderflow.reputation.wash_exits_sql; rep_wash's x_gr and x_tr): AVERAGE 4.02, outcome edge
+0.005 (the control: AVERAGE 3.75, -0.022).
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.gaming_world import coin_flips_then, takers_world, tier_detail
from tests.reputation.population import Spec
from tests.reputation.test_cases import TOP, stats


@pytest.mark.parametrize(
    "premium",
    [
        pytest.param(0.0, id="control"),
        pytest.param(0.09, id="staged"),
    ],
)
async def test_a_sale_to_a_burner_just_under_the_off_market_distance_is_no_edge(
    pool: asyncpg.Pool, premium: float
) -> None:
    """Control: the burners' bids at the market's price (not top). Staged: 0.09 above it."""
    w = takers_world()
    me = w.new_wallet()

    def sold(s: Spec, side: int, t: float, shares: float) -> None:
        # all of it into a fresh burner's resting bid, 0.09 above the market
        bid = round(s.price(t, side) + premium, 2)
        w.chain.trade(s.market, t + 120, me, "SELL", side, shares, bid, w.new_wallet())

    n, held = coin_flips_then(w, me, 60, sold)
    assert n >= 40, n
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, me)
    behaviour = s["factors"]["behaviour"]
    # the wash check sees (almost) nothing off-market: no flag
    assert behaviour["off_market_share"] < 0.1, behaviour
    assert s["flags"] == [], s["flags"]
    assert held.per_dollar < 0.05, held.per_dollar  # no edge held to the end
    # the exits are worth what the market paid around them: no edge either way
    assert s["factors"]["posterior"]["outcome_edge"] < 0.05, tier_detail(s, held)
    assert s["trader_tier"] not in TOP, tier_detail(s, held)
