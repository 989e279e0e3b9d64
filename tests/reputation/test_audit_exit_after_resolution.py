"""Audit: a sale stamped after the market's resolution is no decision, and neither is it the
exit of one.

docs/reputation.md ("Position accounting", *Decisions*): a taker buy is worth x x (the average
exit price for the fraction sold *before resolution*, y for the rest) - what it paid; and
("Fills after the resolution are no decision") a taker fill stamped at or after its market's
resolution was taken with the outcome known (stale orders picked off). ``rep_void`` takes such a
sale's own amounts out of the decisions, but ``rep_positions.exited`` / ``exit_price`` still
count it, so a buy of the loser that was dumped into stale bids once the market had resolved
reads as a winning decision. The same for the other fills ``rep_void`` holds, the matches
against oneself ("A match against oneself is no decision"): a coin flip whose shares the wallet
sold to its own resting bid reads as exited at that bid.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.population import HALF_SPREAD, World, edge_taker, noise_taker
from tests.reputation.test_cases import TOP, stats


async def test_a_sale_after_the_resolution_is_not_the_exit_of_a_decision(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=16, markets=150)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 40)
    for edge in (0.03, 0.04, 0.05, 0.05):
        edge_taker(w, w.new_wallet(), 120, edge)
    picker = w.new_wallet()
    n = 0
    for s in w.specs:
        if s.market.neg_risk or n == 40:
            continue
        loser = 1 - s.winner
        # a decision before the resolution: the loser while it trades near even money
        times = [s.opens + f * (s.resolves - s.opens) for f in (0.2, 0.3, 0.4, 0.5, 0.6)]
        t = next((x for x in times if 0.4 <= s.price(x, loser) <= 0.6), None)
        if t is None:
            continue
        n += 1
        q = min(0.99, s.price(t, loser) + HALF_SPREAD)
        shares = round(100.0 / q, 2)
        w.chain.trade(s.market, t, picker, "BUY", loser, shares, q, w.maker(), mint=True)
        # once the market has resolved: sold into somebody's stale bid at 0.95
        w.chain.trade(
            s.market, s.resolves + 600, picker, "SELL", loser, shares, 0.95, w.new_wallet()
        )
    assert n >= 25, n
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, picker)
    post = s["factors"]["posterior"]
    # every decision it took before the resolutions lost (valued at the payout, 0: -1 a dollar);
    # the stale bids it picked off once the outcome was known are no exit of those decisions
    assert s["trader_tier"] not in TOP, (s["trader_tier"], s["reputation_score"], str(post))
    assert post["outcome_edge"] < 0, (post["outcome_edge"], s["events_resolved"])


async def test_a_sale_to_oneself_is_not_the_exit_of_a_decision(pool: asyncpg.Pool) -> None:
    """The same figures read the matches against oneself (``rep_void``'s other part): a coin
    flip bought at the market, then its shares sold to the wallet's own resting bid at 0.89 a few
    times before the close, reads as exited at 0.89 whatever the outcome."""
    w = World(seed=16, markets=150)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 40)
    for edge in (0.03, 0.04, 0.05, 0.05):
        edge_taker(w, w.new_wallet(), 120, edge)
    me = w.new_wallet()
    n = 0
    for s in w.specs:
        if s.market.neg_risk or n == 40:
            continue
        side = w.rng.randrange(2)  # no skill
        times = [s.opens + f * (s.resolves - s.opens) for f in (0.2, 0.3, 0.4, 0.5, 0.6)]
        t = next((x for x in times if 0.4 <= s.price(x, side) <= 0.6), None)
        if t is None:
            continue
        n += 1
        q = min(0.99, s.price(t, side) + HALF_SPREAD)
        shares = round(100.0 / q, 2)
        w.chain.trade(s.market, t, me, "BUY", side, shares, q, w.maker(), mint=True)
        for k in range(3):  # sold to its own resting bid, bought back by it
            w.chain.trade(s.market, t + 60 * (k + 1), me, "SELL", side, shares, 0.89, me)
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, me)
    post = s["factors"]["posterior"]
    assert s["trader_tier"] not in TOP, (s["trader_tier"], s["reputation_score"], str(post))


async def test_a_buy_back_after_the_resolution_does_not_erase_a_short(pool: asyncpg.Pool) -> None:
    """The shares a position sold beyond those it bought (a sale of split shares: a bet against
    the outcome, ``short``) are counted over every fill too: a short of the winner bought back
    from a stale ask once the market resolved is no short any more, so its loss is no decision
    -- the losing bets of a coin-flipping short seller erased, its winning ones kept."""
    w = World(seed=16, markets=150)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 40)
    for edge in (0.03, 0.04, 0.05, 0.05):
        edge_taker(w, w.new_wallet(), 120, edge)
    me = w.new_wallet()
    n = 0
    for s in w.specs:
        if s.market.neg_risk or n == 40:
            continue
        side = w.rng.randrange(2)  # no skill
        times = [s.opens + f * (s.resolves - s.opens) for f in (0.2, 0.3, 0.4, 0.5, 0.6)]
        t = next((x for x in times if 0.4 <= s.price(x, side) <= 0.6), None)
        if t is None:
            continue
        n += 1
        q = s.price(t, side) - HALF_SPREAD
        # split shares sold at the market: a bet against `side`
        w.chain.trade(s.market, t, me, "SELL", side, 100.0, q, w.maker())
        if side == s.winner:  # lost: bought back from a stale ask once the market resolved
            w.chain.trade(s.market, s.resolves + 600, me, "BUY", side, 100.0, 0.89, w.new_wallet())
    await w.finish(pool)
    await run_reputation(pool)

    s = await stats(pool, me)
    post = s["factors"]["posterior"]
    assert s["trader_tier"] not in TOP, (s["trader_tier"], s["events_resolved"], str(post))
    assert s["events_resolved"] == n  # every short was a decision taken before its resolution
