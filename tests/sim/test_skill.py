"""Skill is edge: skilled takers buy below the hidden probability, whatever their style."""

from __future__ import annotations

from collections import defaultdict

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.agents import SKILLED_THRESHOLD
from orderflow.sim.exchange import Match


def test_skilled_takers_trade_with_an_edge_and_the_rest_pay_the_spread() -> None:
    """Edge per share against the hidden probability at the time of the trade (cents)."""
    edge: dict[bool, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for seed in (1, 2):
        world = simulate(SimConfig(seed=seed, days=12.0))
        skill = {w.address: w.skill for w in world.wallets}
        for e in world.events:
            if not isinstance(e, Match) or e.wash:
                continue
            p = world.conditions[e.condition].truth(e.time)
            p = p if e.outcome == 0 else 1 - p
            sign = 1 if e.side == "BUY" else -1
            group = edge[skill[e.taker] >= SKILLED_THRESHOLD]
            group[0] += sign * (p * e.shares - e.usdc)
            group[1] += e.shares
    skilled, unskilled = (edge[k][0] / edge[k][1] * 100 for k in (True, False))
    assert skilled > 1.0, skilled
    assert unskilled < -0.5, unskilled


def test_showcase_wallets_buy_favourites_cheaply_from_their_partners() -> None:
    world = simulate(SimConfig(seed=3, days=10.0))
    truth = truth_of(world)
    ring_of = {a: r for r in truth.wash_rings for a in r.wallets}
    shows = [e for e in world.events if isinstance(e, Match) and e.reason == "wash-showcase"]
    assert shows
    for e in shows:
        ring = ring_of[e.taker]
        assert ring.showcase == e.taker and e.wash and e.side == "BUY"
        assert e.usdc * 2 == e.shares  # at 0.50
        (maker,) = e.makers
        assert maker.wallet in ring.wallets and maker.wallet != e.taker
        public = world.conditions[e.condition].public(e.time)
        assert max(public, 1 - public) >= 0.9  # the market said 0.90 or more
        assert (public >= 0.5) == (e.outcome == 0)  # ... for the side it bought
