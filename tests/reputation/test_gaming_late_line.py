"""A buy after the close is not judged against the line even when its position began before it.

docs/reputation.md ("What the run computes", step 3): "a decision taken after it [the token's
last trade by the closing time] has no line (it is judged by its outcome)". Until 6 Dec 2026 the
run decided that per *position*: ``evidence_sql.WALLETS``' ``pos`` gave the line to a position
whose *first* taker fill was at or before the close, and valued every share its taker fills
bought against it. So a wallet that opened both tokens of a market with a dollar each early on,
waited until after the close, and then bought, at the market's price, whichever token had fallen
since the line was set, was "worth" the whole fall on every decision: the line is a price it read
off the chain before it bought (WHALE 8.35, P 0.997, closing-line edge +0.27 where the outcome
edge is -0.16). Now the decisions after the close (``rep_void``'s post amounts) are valued at
their own price (no closing-line value either way; the outcome still judges them), and the
closing line's null variance is the decisions' before it; the replay reads the same.

No skill: the late buys are at the market's price in a calibrated world (their outcome edge is
the spread's loss); the closing-line edge was the price's move since the close, manufactured by
choosing the side after the fact.
"""

from __future__ import annotations

import asyncpg
import pytest

from tests.reputation.gaming_world import Held, scored, takers_world, tier_detail
from tests.reputation.population import HALF_SPREAD
from tests.reputation.test_cases import TOP


@pytest.mark.parametrize("opened_early", [False, True], ids=["control", "opened_early"])
async def test_a_buy_after_the_close_is_not_judged_against_the_line(
    pool: asyncpg.Pool, opened_early: bool
) -> None:
    """Control: the same late buys without the early dollar have no line (AVERAGE). With it, the
    line set before they were bought judges them."""
    w = takers_world(markets=250)
    me = w.new_wallet()
    n = 0
    held = Held()  # the late buys held to the resolution
    for s in w.specs:
        if s.market.neg_risk or n == 60:
            continue
        span = s.resolves - s.opens
        t_close = s.opens + 0.76 * span
        t_late = side = late = None
        for f in (0.85, 0.87, 0.89, 0.91, 0.93, 0.95):  # the first time a token has fallen
            t = s.opens + f * span
            move = s.price(t, 0) - s.price(t_close, 0)
            side = 1 if move > 0 else 0  # the token that fell since the close
            if abs(move) >= 0.03 and 0.3 <= s.price(t, side) <= 0.75:
                t_late, late = t, s.price(t, side)
                break
        if t_late is None or side is None or late is None:
            continue
        n += 1
        # a dollar of each token early on: each position's first taker fill is before the close
        for outcome in (0, 1) if opened_early else ():
            w.take(s, s.opens + 0.01 * span, me, outcome, 1.0)
        # the market around the close: an honest taker of each token at its price
        for outcome in (0, 1):
            w.take(s, t_close - 0.02 * span, w.new_wallet(), outcome, 20.0)
        # after the close: the token that fell, bought at the market's price
        q = min(0.99, late + HALF_SPREAD)
        w.take(s, t_late, me, side, 100.0, price=q)
        held.add(s, side, round(100.0 / q, 2), q)
    assert n >= 50, n
    row = await scored(pool, w, me)
    assert row["flags"] == [], (row["flags"], row["factors"]["behaviour"])
    assert held.per_dollar < 0.0, held.per_dollar  # it loses, held to the end
    assert row["trader_tier"] not in TOP, (*tier_detail(row, held), n)
    # the closing line sees no edge: the late buys are valued at their own price
    post = row["factors"]["posterior"]
    assert post["clv_edge"] < post["clv_se"], tier_detail(row, held)
