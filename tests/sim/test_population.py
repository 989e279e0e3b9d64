"""The truth file names every population, and skill is independent of style."""

from __future__ import annotations

import statistics
from collections import defaultdict

import pytest

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.agents import NAMED_ONLY, PROFILES, SKILLED_THRESHOLD, draw_skill
from orderflow.sim.exchange import Match
from orderflow.sim.world import World


def auc(positives: list[float], negatives: list[float]) -> float:
    """P(a random positive > a random negative), ties counting half."""
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def volumes(world: World) -> dict[str, float]:
    """Collateral each wallet traded, as taker or maker, wash trades included."""
    vol: dict[str, float] = defaultdict(float)
    for e in world.events:
        if isinstance(e, Match):
            vol[e.taker] += e.usdc
            for m in e.makers:
                vol[m.wallet] += m.usdc
    return vol


def test_truth_names_every_style_skill_and_wash_ring() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=5)))
    styles = {w.style for w in truth.wallets}
    assert styles == {*PROFILES, "market_maker"} - NAMED_ONLY  # none unless named
    assert all(isinstance(w.skill, float) for w in truth.wallets)
    assert all(w.truly_skilled == (w.skill >= truth.skilled_threshold) for w in truth.wallets)
    makers = [w for w in truth.wallets if w.style == "market_maker"]
    assert any(m.truly_skilled for m in makers) and not all(m.truly_skilled for m in makers)
    # Every wash wallet is in exactly one ring; each ring's showcase is one of its members.
    assert truth.wash_rings
    members = [a for r in truth.wash_rings for a in r.wallets]
    by_address = truth.wallet_map()
    assert len(members) == len(set(members))
    assert {w.address for w in truth.wallets if w.style == "wash"} == set(members)
    for ring in truth.wash_rings:
        assert len(ring.wallets) >= 3
        assert all(by_address[a].wash_ring == ring.ring for a in ring.wallets)
        shows = [a for a in ring.wallets if by_address[a].showcase]
        assert shows == ([ring.showcase] if ring.showcase else [])
    assert truth.wash_rings[0].showcase is not None
    assert all(w.wash_ring is None and not w.showcase for w in truth.wallets if w.style != "wash")


def test_skill_is_drawn_from_one_distribution_for_every_style() -> None:
    import random

    rng = random.Random(1)
    draws = [draw_skill(rng) for _ in range(20_000)]
    share = sum(d >= SKILLED_THRESHOLD for d in draws) / len(draws)
    assert 0.04 < share < 0.07  # "a few percent skilled"
    assert len(set(draws)) == len(draws)  # continuous: no atoms
    # In simulated populations every style has skilled and unskilled members over a few seeds.
    skilled_by_style: dict[str, list[bool]] = defaultdict(list)
    for seed in range(1, 7):
        for w in truth_of(simulate(SimConfig(seed=seed, days=0.1))).wallets:
            skilled_by_style[w.style].append(w.truly_skilled)
    for style, flags in skilled_by_style.items():
        assert any(flags), style
        assert not all(flags), style


def test_volume_does_not_reveal_skill() -> None:
    """Skilled vs unskilled wallets: the AUC of traded volume averages 0.5 across seeds."""
    aucs = []
    for seed in range(1, 7):
        world = simulate(SimConfig(seed=seed, days=6.0))
        vol = volumes(world)
        traders = [w for w in world.wallets if w.style != "market_maker"]
        skilled = [vol[w.address] for w in traders if w.skill >= SKILLED_THRESHOLD]
        others = [vol[w.address] for w in traders if w.skill < SKILLED_THRESHOLD]
        aucs.append(auc(skilled, others))
    assert statistics.fmean(aucs) == pytest.approx(0.5, abs=0.08), aucs


def test_most_wallets_lose_makers_win_and_a_quarter_of_volume_is_wash() -> None:
    world = simulate(SimConfig(seed=2, days=20.0))
    end = world.config.start_time.timestamp() + world.config.days * 86_400
    pnl = {
        w.address: w.cash
        + sum(n * world.conditions[k // 2].public(end) for k, n in w.holdings.items())
        - w.deposited
        for w in world.wallets
    }
    losers = sum(v < 0 for v in pnl.values()) / len(pnl)
    assert 0.6 < losers < 0.9
    makers = sum(v for w in world.wallets if w.style == "market_maker" for v in [pnl[w.address]])
    assert makers > 0
    matches = [e for e in world.events if isinstance(e, Match)]
    wash = sum(e.usdc for e in matches if e.wash) / sum(e.usdc for e in matches)
    assert 0.15 < wash < 0.35


def test_styles_trade_as_described() -> None:
    world = simulate(SimConfig(seed=6, days=20.0))
    style = {w.address: w.style for w in world.wallets}
    bets: dict[str, int] = defaultdict(int)
    for e in world.events:
        if not isinstance(e, Match):
            continue
        if style[e.taker] == "penny_picker":
            assert e.side == "BUY" and 95 * e.shares <= 100 * e.usdc <= 99 * e.shares
        if not e.wash and e.side == "BUY":
            bets[e.taker] += 1
        for m in e.makers:  # only market makers rest orders on the book; wash rings cross
            assert style[m.wallet] == "market_maker" or (e.wash and style[m.wallet] == "wash")
    lucky = sorted(bets[w.address] for w in world.wallets if w.style == "lucky")
    assert lucky[len(lucky) // 2] <= 6  # a handful of bets
    assert {e.reason for e in world.events if isinstance(e, Match)} >= {
        *(set(PROFILES) - NAMED_ONLY),  # none unless a population names them
        "exit",
        "panic",
        "wash-showcase",
    }
