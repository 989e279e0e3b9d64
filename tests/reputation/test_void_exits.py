"""A fill that is no decision is no exit of one either.

docs/reputation.md ("Position accounting", *Decisions*): a taker buy is worth x x (the average
exit price for the fraction sold *before resolution*, y for the rest) - what it paid. A fill
stamped at or after its market's resolution ("Fills after the resolution are no decision") and
a match against the wallet's own orders ("A match against oneself is no decision") are taken
out of the decisions (``rep_void``'s taker amounts) and, since 6 Dec 2026, out of what the
decisions' exits are made of too (its gross amounts ``gb``, ``gs``, ``gr``: ``exited``,
``exit_price`` and ``short`` of the rest). Before, each of the three wallets below was SMART:
the loser dumped into stale bids once resolved read as an outcome edge of +0.87 a dollar (its
decisions all lost: -1); a coin flip sold to its own resting bid at 0.89 as an edge of +0.48;
a short of the winner bought back from a stale ask once resolved as no short (its losing bets
erased: 23 of 40 decisions counted). The replay (``orderflow wallet``) reads the same.
"""

from __future__ import annotations

import asyncpg

from tests.reputation.gaming_world import (
    buy_at_market,
    coin_flip,
    even_money_sides,
    scored,
    takers_world,
    tier_detail,
)
from tests.reputation.population import HALF_SPREAD
from tests.reputation.test_cases import TOP


async def test_a_sale_after_the_resolution_is_no_exit_of_a_decision(pool: asyncpg.Pool) -> None:
    """The wallet buys the eventual loser near even money, then sells it into somebody's stale
    bid at 0.95 once the market has resolved: every decision lost."""
    w = takers_world()
    picker = w.new_wallet()
    n = 0
    for s, loser, t in even_money_sides(w, 40, lambda s: 1 - s.winner):
        n += 1
        shares, _ = buy_at_market(w, picker, s, loser, t)
        w.chain.trade(
            s.market, s.resolves + 600, picker, "SELL", loser, shares, 0.95, w.new_wallet()
        )
    assert n >= 25, n
    row = await scored(pool, w, picker)
    assert row["trader_tier"] not in TOP, tier_detail(row)
    assert row["factors"]["posterior"]["outcome_edge"] < 0, tier_detail(row)


async def test_a_sale_to_oneself_is_no_exit_of_a_decision(pool: asyncpg.Pool) -> None:
    """A coin flip bought at the market, its shares then sold to the wallet's own resting bid
    at 0.89 three times before the close: held to the resolution, its decisions coin flips."""
    w = takers_world()
    me = w.new_wallet()
    for s, side, t in even_money_sides(w, 40, coin_flip(w)):
        shares, _ = buy_at_market(w, me, s, side, t)
        for k in range(3):  # sold to its own resting bid, bought back by it
            w.chain.trade(s.market, t + 60 * (k + 1), me, "SELL", side, shares, 0.89, me)
    row = await scored(pool, w, me)
    assert row["trader_tier"] not in TOP, tier_detail(row)


async def test_a_buy_back_after_the_resolution_does_not_erase_a_short(pool: asyncpg.Pool) -> None:
    """Split shares sold at the market (a bet against the outcome, ``short``); a losing one
    bought back from a stale ask once the market resolved is still a short, and its loss a
    decision: every short counts."""
    w = takers_world()
    me = w.new_wallet()
    n = 0
    for s, side, t in even_money_sides(w, 40, coin_flip(w)):
        n += 1
        w.chain.trade(s.market, t, me, "SELL", side, 100.0, s.price(t, side) - HALF_SPREAD,
                      w.maker())  # fmt: skip
        if side == s.winner:
            w.chain.trade(s.market, s.resolves + 600, me, "BUY", side, 100.0, 0.89, w.new_wallet())
    row = await scored(pool, w, me)
    assert row["trader_tier"] not in TOP, tier_detail(row)
    assert row["events_resolved"] == n
