"""The verdict with error bars: P&L per dollar staked, a bootstrap interval, PAID / LOST / ?

A follower's positions are not independent: positions in one market (or one neg-risk event) win
or lose together. So the unit of resampling is the event (a neg-risk event's legs together, any
other market alone — called "markets" below): the bootstrap draws them with replacement, and
each draw's return on stake is ``sum(P&L) / sum(staked)`` over the markets drawn (a ratio
estimator: big stakes weigh more, as they do in the account). The interval is the central
``confidence`` share of the draws (percentile bootstrap). The verdict reads the interval, never
the sign of the point estimate:

* **PAID** — the whole interval is above zero;
* **LOST** — the whole interval is below zero;
* **INCONCLUSIVE** — the interval contains zero, or there are too few markets to draw from.

A comparison with a baseline draws the *same* markets for both (paired), so "beat follow-all"
is judged on the difference of the two returns with its own interval.

Several independent histories (simulator seeds) can be pooled: their markets are simply more
markets (keys stay distinct because each carries its history's label).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from orderflow.backtest.book import SignalRecord

Verdict = Literal["PAID", "LOST", "INCONCLUSIVE"]
MIN_MARKETS = 10
DEFAULT_DRAWS = 2000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarketResult:
    """One market's total for one follower: P&L (fees in) and collateral staked."""

    pnl: float
    staked: float


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float | None  # the point estimate over all markets
    low: float | None
    high: float | None
    markets: int  # how many markets (events) were resampled
    confidence: float

    @property
    def verdict(self) -> Verdict:
        if self.low is None or self.high is None:
            return "INCONCLUSIVE"
        if self.low > 0:
            return "PAID"
        if self.high < 0:
            return "LOST"
        return "INCONCLUSIVE"

    def describe(self, unit: str = "per dollar staked") -> str:
        if self.estimate is None:
            return "n/a (nothing staked)"
        if self.low is None or self.high is None:
            return (
                f"{self.estimate * 100:+.1f}% {unit}, no interval ({self.markets} markets; "
                f"at least {MIN_MARKETS} needed)"
            )
        return (
            f"{self.estimate * 100:+.1f}% {unit}, {self.confidence * 100:.0f}% CI "
            f"[{self.low * 100:+.1f}%, {self.high * 100:+.1f}%] over {self.markets} markets"
        )


def by_market(
    signals: Iterable[SignalRecord], label: str = "", events: Mapping[str, str] | None = None
) -> dict[str, MarketResult]:
    """Executed entries grouped by event (``events``: market id -> event id; the legs of a
    neg-risk event resolve together, exactly one wins), else by market, else by token."""
    pnl: dict[str, Decimal] = {}
    staked: dict[str, Decimal] = {}
    events = events or {}
    for s in signals:
        if s.status != "EXECUTED" or not s.is_entry:
            continue
        market = s.market_id or str(s.token_id)
        key = f"{label}{events.get(market, market)}"
        pnl[key] = pnl.get(key, ZERO) + (s.pnl or ZERO)
        staked[key] = staked.get(key, ZERO) + (s.size_usdc or ZERO) + s.fee
    return {k: MarketResult(float(pnl[k]), float(staked[k])) for k in pnl}


def _ratio(results: Sequence[MarketResult]) -> float | None:
    staked = sum(r.staked for r in results)
    return None if staked <= 0 else sum(r.pnl for r in results) / staked


def _percentiles(values: list[float], confidence: float) -> tuple[float, float]:
    values.sort()
    tail = (1 - confidence) / 2
    last = len(values) - 1
    lo = values[math.floor(tail * last)]  # outward rounding: never narrower than asked
    hi = values[math.ceil((1 - tail) * last)]
    return lo, hi


def return_interval(
    markets: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """P&L per dollar staked with a percentile bootstrap interval over markets (the keys of
    ``markets``: the units drawn, each an independent outcome)."""
    results = [markets[k] for k in sorted(markets)]
    estimate = _ratio(results)
    if estimate is None or len(results) < MIN_MARKETS:
        return Interval(estimate, None, None, len(results), confidence)
    rng = random.Random(seed)
    n = len(results)
    samples = []
    for _ in range(draws):
        value = _ratio([results[rng.randrange(n)] for _ in range(n)])
        if value is not None:
            samples.append(value)
    lo, hi = _percentiles(samples, confidence)
    return Interval(estimate, lo, hi, n, confidence)


def difference_interval(
    a: Mapping[str, MarketResult],
    b: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """Return on stake of ``a`` minus that of ``b``, the same markets drawn for both; no
    interval unless each side staked in at least ``MIN_MARKETS`` markets."""
    keys = sorted(set(a) | set(b))
    empty = MarketResult(0.0, 0.0)
    pairs = [(a.get(k, empty), b.get(k, empty)) for k in keys]

    def diff(sample: Sequence[tuple[MarketResult, MarketResult]]) -> float | None:
        ra, rb = _ratio([p[0] for p in sample]), _ratio([p[1] for p in sample])
        return None if ra is None or rb is None else ra - rb

    estimate = diff(pairs)
    staked_a = sum(1 for r in a.values() if r.staked > 0)
    staked_b = sum(1 for r in b.values() if r.staked > 0)
    if estimate is None or min(staked_a, staked_b) < MIN_MARKETS:
        return Interval(estimate, None, None, len(pairs), confidence)  # one side too thin
    rng = random.Random(seed)
    n = len(pairs)
    samples = []
    for _ in range(draws):
        value = diff([pairs[rng.randrange(n)] for _ in range(n)])
        if value is not None:
            samples.append(value)
    if not samples:
        return Interval(estimate, None, None, n, confidence)
    lo, hi = _percentiles(samples, confidence)
    return Interval(estimate, lo, hi, n, confidence)


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline: str
    difference: Interval

    @property
    def words(self) -> str:
        v = self.difference.verdict
        if v == "PAID":
            return f"beat {self.baseline}"
        if v == "LOST":
            return f"did worse than {self.baseline}"
        return f"could not be told apart from {self.baseline}"


@dataclass(frozen=True, slots=True)
class FollowerVerdict:
    name: str
    interval: Interval
    comparisons: tuple[Comparison, ...] = ()

    @property
    def verdict(self) -> Verdict:
        return self.interval.verdict


def judge(
    followers: Sequence[tuple[str, Mapping[str, MarketResult]]],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> list[FollowerVerdict]:
    """An interval per follower; the first (the strategy) is also compared with the others."""
    out = []
    for i, (name, markets) in enumerate(followers):
        interval = return_interval(markets, confidence=confidence, draws=draws, seed=seed)
        comparisons: tuple[Comparison, ...] = ()
        if i == 0:
            comparisons = tuple(
                Comparison(
                    other,
                    difference_interval(
                        markets, theirs, confidence=confidence, draws=draws, seed=seed
                    ),
                )
                for other, theirs in followers[1:]
            )
        out.append(FollowerVerdict(name, interval, comparisons))
    return out


def sentence(verdicts: Sequence[FollowerVerdict]) -> str:
    """The verdict in words, from the intervals."""
    strategy = verdicts[0]
    i = strategy.interval
    if i.estimate is None:
        return (
            "Verdict: INCONCLUSIVE — the strategy took no position, so the history cannot say "
            "whether following the scores would have paid."
        )
    meaning = {
        "PAID": "following the scores PAID",
        "LOST": "following the scores LOST money",
        "INCONCLUSIVE": "the history cannot tell whether following the scores pays",
    }[strategy.verdict]
    parts = [f"Verdict: {strategy.verdict} — {meaning}: {i.describe()}."]
    if strategy.comparisons:
        parts.append(
            "Against the baselines (paired, same markets): "
            + "; ".join(
                f"{c.words} ({c.difference.describe('difference')})" for c in strategy.comparisons
            )
            + "."
        )
    return " ".join(parts)
