"""The verdict reads the interval, not the sign: bootstrap over markets, paired comparisons."""

from __future__ import annotations

import random

from orderflow.backtest.verdict import (
    MIN_MARKETS,
    MarketResult,
    difference_interval,
    judge,
    return_interval,
    sentence,
)


def _markets(returns: list[float], stake: float = 100.0) -> dict[str, MarketResult]:
    return {f"m{i}": MarketResult(r * stake, stake) for i, r in enumerate(returns)}


def test_consistent_gains_pay_and_consistent_losses_lose() -> None:
    rng = random.Random(1)
    up = return_interval(_markets([0.2 + rng.uniform(-0.1, 0.1) for _ in range(40)]))
    assert up.verdict == "PAID" and up.low is not None and up.low > 0
    assert up.estimate is not None and up.low < up.estimate < (up.high or 0)
    down = return_interval(_markets([-0.2 + rng.uniform(-0.1, 0.1) for _ in range(40)]))
    assert down.verdict == "LOST" and down.high is not None and down.high < 0


def test_a_positive_total_driven_by_one_market_is_inconclusive() -> None:
    """One big winner among many small losers: P&L > 0, but the interval spans zero."""
    returns = [-0.3] * 29 + [12.0]
    interval = return_interval(_markets(returns))
    assert interval.estimate is not None and interval.estimate > 0  # the sign says "paid"
    assert interval.verdict == "INCONCLUSIVE"  # the interval does not
    assert interval.low is not None and interval.low < 0 < (interval.high or 0)


def test_too_few_markets_give_no_interval() -> None:
    interval = return_interval(_markets([0.5] * (MIN_MARKETS - 1)))
    assert interval.estimate == 0.5 and interval.low is None
    assert interval.verdict == "INCONCLUSIVE"
    assert "no interval" in interval.describe()
    nothing = return_interval({})
    assert nothing.estimate is None and nothing.verdict == "INCONCLUSIVE"


def test_ratio_weighs_stakes_and_the_interval_is_seeded() -> None:
    markets = {"a": MarketResult(90.0, 100.0), "b": MarketResult(-10.0, 900.0)}
    assert return_interval(markets).estimate == 80.0 / 1000.0
    many = _markets([random.Random(i).uniform(-0.5, 0.6) for i in range(30)])
    assert return_interval(many, seed=3) == return_interval(many, seed=3)
    assert return_interval(many, seed=3).low != return_interval(many, seed=4).low


def test_paired_difference_draws_the_same_markets() -> None:
    # b earns exactly 0.1 less per dollar in every market: the difference has no spread at all.
    base = [0.05 + 0.8 * (-1) ** i for i in range(30)]  # +0.85, -0.75, ...: mean 0.05
    a, b = _markets(base), _markets([r - 0.1 for r in base])
    d = difference_interval(a, b)
    assert d.verdict == "PAID"
    assert d.low is not None and d.high is not None
    assert abs(d.low - 0.1) < 1e-9 and abs(d.high - 0.1) < 1e-9
    # Unpaired, each interval alone would span zero.
    assert return_interval(a).verdict == return_interval(b).verdict == "INCONCLUSIVE"


def test_judge_and_sentence() -> None:
    rng = random.Random(2)
    strategy = _markets([0.3 + rng.uniform(-0.1, 0.1) for _ in range(20)])
    baseline = _markets([rng.uniform(-0.4, 0.4) for _ in range(20)])
    verdicts = judge([("strategy", strategy), ("follow-all", baseline)])
    assert verdicts[0].verdict == "PAID"
    assert [c.baseline for c in verdicts[0].comparisons] == ["follow-all"]
    assert verdicts[1].comparisons == ()
    text = sentence(verdicts)
    assert text.startswith("Verdict: PAID") and "95% CI [" in text and "follow-all" in text
    empty = judge([("strategy", {}), ("follow-all", baseline)])
    assert sentence(empty).startswith("Verdict: INCONCLUSIVE")
