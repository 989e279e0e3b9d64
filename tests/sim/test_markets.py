"""Hidden probabilities are martingales toward the outcome; closing prices are calibrated."""

from __future__ import annotations

import math
import random
from collections import defaultdict

from orderflow.sim import SimConfig, simulate, truth_of
from orderflow.sim.markets import _posterior_paths


def test_outcomes_follow_the_prior_probabilities() -> None:
    truth = truth_of(simulate(SimConfig(seed=4, markets=400, wallets=8, days=1.0)))
    binary = [m for m in truth.markets if not m.neg_risk and m.payout_numerators != (1, 1)]
    expected = sum(m.true_probability for m in binary)
    won = sum(1 for m in binary if m.payout_numerators == (1, 0))
    assert abs(won - expected) < 3 * (len(binary) * 0.25) ** 0.5
    # Each neg-risk event has exactly one winning condition and at least three legs.
    events: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for m in truth.markets:
        if m.neg_risk:
            events[m.event].append(m.payout_numerators)
    assert events
    assert all(sum(p == (1, 0) for p in ps) == 1 and len(ps) >= 3 for ps in events.values())


def test_posterior_paths_are_martingales_that_end_near_the_outcome() -> None:
    rng = random.Random(3)
    finals = []
    for _ in range(3000):
        won = rng.random() < 0.3
        path = _posterior_paths(rng, [0.3], 0 if won else -1, 24, 8.0)[0]
        finals.append((path[-1], won))
    # E[p_T] = p_0 (martingale), and p_T has moved toward the outcome.
    mean = sum(p for p, _ in finals) / len(finals)
    assert abs(mean - 0.3) < 3 * math.sqrt(0.3 * 0.7 / len(finals))
    winners = [p for p, won in finals if won]
    losers = [p for p, won in finals if not won]
    assert sum(winners) / len(winners) > 0.6 > 0.15 > sum(losers) / len(losers)
    # Neg-risk legs always sum to one.
    legs = _posterior_paths(rng, [0.5, 0.3, 0.2], 1, 48, 6.0)
    assert all(abs(sum(ps) - 1.0) < 1e-9 for ps in zip(*legs, strict=True))


def test_closing_prices_are_calibrated_across_seeds() -> None:
    """Closes in a price bin win about as often as the bin's mean close (0.01 tick allowed)."""
    bins: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for seed in range(1, 7):
        truth = truth_of(simulate(SimConfig(seed=seed, markets=50, wallets=80, days=20.0)))
        for m in truth.markets:
            if m.resolved_in_run and m.payout_numerators != (1, 1):
                bins[min(4, int(m.close_price * 5))].append((m.close_price, m.payout_numerators[0]))
    assert len(bins) == 5  # closes spread over the whole range, not bunched at 0.5
    for b, rows in sorted(bins.items()):
        n = len(rows)
        close = sum(p for p, _ in rows) / n
        won = sum(w for _, w in rows) / n
        se = math.sqrt(max(close * (1 - close), 0.01) / n)
        assert abs(won - close) < 0.02 + 3 * se, (b, n, close, won)
