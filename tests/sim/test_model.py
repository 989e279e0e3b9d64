"""The hidden truth means something: skill pays, outcomes follow true odds, styles exist."""

from __future__ import annotations

import statistics
from collections import defaultdict

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.agents import STYLE_MIX
from orderflow.sim.engine import Match


def test_skilled_wallets_earn_more_than_unskilled_ones() -> None:
    returns: dict[str, list[float]] = defaultdict(list)
    for seed in (1, 2):
        world = simulate(SimConfig(seed=seed, markets=20, wallets=120, days=20.0))
        end = 10**12  # after everything: open holdings valued at the last price
        for w in world.wallets:
            if w.style == "market_maker":
                continue
            value = w.cash + sum(
                shares * world.conditions[key // 2].price(key % 2, end)
                for key, shares in w.holdings.items()
            )
            returns[w.style].append((value - w.bankroll) / w.bankroll)
    skilled = statistics.fmean(returns["skilled"])
    for unskilled in ("retail", "whale", "panic", "lucky"):
        assert skilled > statistics.fmean(returns[unskilled]) + 0.05, unskilled
    assert skilled > 0


def test_every_style_trades_and_panic_sellers_sell() -> None:
    world = simulate(SimConfig.small(seed=3))
    reasons = {e.reason for e in world.events if isinstance(e, Match)}
    assert {style for style, _ in STYLE_MIX} <= reasons
    assert "panic" in reasons
    sells = [e for e in world.events if isinstance(e, Match) and e.side == "SELL"]
    assert sells


def test_outcomes_follow_the_true_probabilities() -> None:
    truth = truth_of(simulate(SimConfig(seed=4, markets=400, wallets=8, days=1.0)))
    binary = [m for m in truth.markets if not m.neg_risk and m.payout_numerators != (1, 1)]
    expected = sum(m.true_probability for m in binary)
    won = sum(1 for m in binary if m.payout_numerators == (1, 0))
    assert abs(won - expected) < 3 * (len(binary) * 0.25) ** 0.5
    # Each neg-risk event has exactly one winning condition.
    events: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for m in truth.markets:
        if m.neg_risk:
            events[m.event].append(m.payout_numerators)
    assert events
    assert all(sum(p == (1, 0) for p in ps) == 1 and len(ps) >= 3 for ps in events.values())


def test_truth_lists_every_wallet_with_its_hidden_skill() -> None:
    world = simulate(SimConfig.small(seed=5))
    truth = truth_of(world)
    assert len(truth.wallets) == len(world.wallets)
    makers = [w for w in truth.wallets if w.style == "market_maker"]
    assert makers and all(w.skill is None and not w.truly_skilled for w in makers)
    skilled = [w for w in truth.wallets if w.style == "skilled"]
    assert skilled and all(w.truly_skilled for w in skilled)
    assert not any(w.truly_skilled for w in truth.wallets if w.style in ("lucky", "whale"))
