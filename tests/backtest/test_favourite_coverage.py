"""The verdict's interval calls a zero-edge follower of favourites PAID (open: a strict xfail).

tests/backtest/test_coverage.py checks the 95 % interval on zero-edge worlds whose prices are
drawn from 0.05-0.95 (5.5 % of them excluded the truth). A copy-trader meets another world as
often: whales buying favourites, 0.85-0.97 (follow-all follows every one of them). Bought at
its true probability, such a market is lost with probability 1 - p, 3-15 %: in a history of
10-30 of them, often none is lost. The sample then shows none of the payoff's tail (a loss of
the whole stake), its residuals are a few cents a dollar, the bootstrap-t and Student's t floor
(orderflow/backtest/interval.py ``studentized``) scale that tiny standard error, and the interval
sits wholly above zero: PAID, said of a follower with no edge. The verdict promises "PAID — the
whole interval is above zero" at 95 % (orderflow/backtest/verdict.py); the backtest knows every
position's price, so it knows the spread a binary payoff bought at p has without having to see a
loss.
"""

from __future__ import annotations

import random

import pytest

from orderflow.backtest.verdict import MarketResult, return_interval

SIZES = (10, 15, 20, 30)
WORLDS = 50  # per size
DRAWS = 500


def _zero_edge_favourites(rng: random.Random, n: int) -> dict[str, MarketResult]:
    """n markets, each bought for 100 USDC at its true probability p in 0.85-0.97, resolving on
    n different days (no common factor): the true return per dollar is exactly 0."""
    markets = {}
    for i in range(n):
        p = rng.uniform(0.85, 0.97)
        won = rng.random() < p
        pnl = 100 * (1 / p - 1) if won else -100.0
        markets[f"m{i}"] = MarketResult(pnl, 100.0, f"2026-05-{1 + i:02d}")
    return markets


@pytest.mark.xfail(
    strict=True,
    reason="the interval scales the sample's own spread: favourites bought at 0.85-0.97 and all "
    "won show none of the payoff's tail, and 24.5 % of 200 zero-edge worlds read PAID (7 % "
    "allowed); each market's variance needs a floor from its entry price (docs/backtest.md)",
)
def test_a_zero_edge_follower_of_favourites_is_seldom_called_paid() -> None:
    paid = excluded = worlds = 0
    for n in SIZES:
        for w in range(WORLDS):
            interval = return_interval(
                _zero_edge_favourites(random.Random(n * 1000 + w), n), draws=DRAWS, seed=w
            )
            assert interval.low is not None and interval.high is not None
            worlds += 1
            excluded += not interval.low <= 0 <= interval.high
            paid += interval.verdict == "PAID"
    rate = excluded / worlds
    # The threshold tests/backtest/test_coverage.py holds the 0.05-0.95 worlds to.
    assert rate <= 0.07, (
        f"a 95% interval excluded the true return (0) in {rate:.1%} of {worlds} zero-edge "
        f"worlds of favourites ({paid} of them PAID)"
    )
