"""The verdict with error bars: P&L per dollar staked, a bootstrap interval, PAID / LOST / ?

A follower's positions are not independent: positions in one market (or one neg-risk event) win
or lose together. So the unit of resampling is the event (a neg-risk event's legs together, any
other market alone — called "markets" below): the bootstrap draws them with replacement, and
each draw's return on stake is ``sum(P&L) / sum(staked)`` over the markets drawn (a ratio
estimator: big stakes weigh more, as they do in the account). The interval is a studentized
(bootstrap-t) one: each draw's estimate minus the full sample's, divided by the draw's own
standard error (the ratio's linearised one), gives the quantiles of t; the interval is the
estimate minus those quantiles times the full sample's standard error. With the 10-30 markets a
backtest has and payoffs as skewed as a 0.10 buy's (lose 1 or win 9), the plain percentile
interval (the central share of the draws' estimates) was too narrow: on worlds where following
had no edge it left the truth out 12 % of the time, not 5 % (tests/backtest/test_coverage.py).

Markets resolving on one UTC day may be moved by one common factor (one election's races, one
rally's "above X" markets): then they are one draw of it, not one each. The standard error is
cluster-robust (CR2) and the larger of the markets' and the one clustered by resolution day, and
the interval is never narrower than Student's t with G - 1 degrees of freedom for the G days
(:mod:`orderflow.backtest.interval`; docs/backtest.md measures both). Nor is the standard error
below what the markets' entry prices imply with no edge (``MarketResult.null_var``: a follower
of favourites that all won shows no spread, yet had one). The markets stay the units
drawn: drawing days instead left too few units on the backtest's histories (docs/backtest.md).

The verdict reads the interval, never the sign of the point estimate:

* **PAID** — the whole interval is above zero;
* **LOST** — the whole interval is below zero;
* **INCONCLUSIVE** — the interval contains zero, or there are too few markets to draw from (or
  they all resolved on one day: one cluster).

A comparison with a baseline draws the *same* markets for both (paired), so "beat follow-all"
is judged on the difference of the two returns with its own interval.

Several independent histories (simulator seeds) can be pooled: their markets are simply more
markets (keys stay distinct because each carries its history's label).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from orderflow.backtest.book import SignalRecord
from orderflow.backtest.interval import MarketResult, null_variance, studentized

__all__ = [
    "MIN_MARKETS",
    "Comparison",
    "FollowerVerdict",
    "Interval",
    "MarketResult",
    "by_market",
    "difference_interval",
    "judge",
    "resolution_days",
    "return_interval",
    "sentence",
]

Verdict = Literal["PAID", "LOST", "INCONCLUSIVE"]
MIN_MARKETS = 10
DEFAULT_DRAWS = 2000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float | None  # the point estimate over all markets
    low: float | None
    high: float | None
    markets: int  # how many markets (events) were resampled
    confidence: float
    # a paired interval not drawn: the markets the thinner side staked in (fewer than MIN_MARKETS)
    thin: int | None = None
    # the clusters the standard error was summed over: resolution days, each open market alone
    clusters: int | None = None

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
            if self.clusters == 1:
                return (
                    f"{self.estimate * 100:+.1f}% {unit}, no interval ({self.markets} markets, all"
                    " resolving on one day: one draw)"
                )
            staked = (
                f"{self.markets} markets"
                if self.thin is None
                else f"one side staked in {self.thin} of {self.markets} markets"
            )
            return (
                f"{self.estimate * 100:+.1f}% {unit}, no interval ({staked}; at least"
                f" {MIN_MARKETS} needed)"
            )
        return (
            f"{self.estimate * 100:+.1f}% {unit}, {self.confidence * 100:.0f}% CI "
            f"[{self.low * 100:+.1f}%, {self.high * 100:+.1f}%] over {self.markets} markets"
        )


def resolution_days(events: Mapping[str, str], resolved: Mapping[str, datetime]) -> dict[str, str]:
    """Market id -> the UTC day (ISO date) its event resolved on: a neg-risk event's, the last of
    its legs' resolutions in ``resolved`` (``events``: market id -> event id, a market not in it
    its own event; ``resolved``: market id -> resolution time, for the markets that resolved
    within the replay). The reputation run's days (``replay_inputs.resolution_days``)."""
    last: dict[str, datetime] = {}
    for market, at in resolved.items():
        event = events.get(market, market)
        if event not in last or at > last[event]:
            last[event] = at
    days = {}
    for market in set(events) | set(resolved):
        event_resolved = last.get(events.get(market, market))
        if event_resolved is not None:
            days[market] = event_resolved.astimezone(UTC).date().isoformat()
    return days


def by_market(
    signals: Iterable[SignalRecord],
    label: str = "",
    events: Mapping[str, str] | None = None,
    days: Mapping[str, str] | None = None,
) -> dict[str, MarketResult]:
    """Executed entries grouped by event (``events``: market id -> event id; the legs of a
    neg-risk event resolve together, exactly one wins), else by market, else by token; each
    with its resolution day (``days``: market id -> day, from :func:`resolution_days`) and the
    variance its P&L would have with no edge (:func:`orderflow.backtest.interval.null_variance`)
    from the shares held to the resolution at their entry price: a position sold or open at the
    end adds none (its variance with no edge is at least that of the shares it kept)."""
    pnl: dict[str, Decimal] = {}
    staked: dict[str, Decimal] = {}
    day: dict[str, str] = {}
    # per event, per leg (market): net shares of its first outcome, shares x implied P, shares
    legs: dict[str, dict[str, list[float]]] = {}
    events, days = events or {}, days or {}
    for s in signals:
        if s.status != "EXECUTED" or not s.is_entry:
            continue
        market = s.market_id or str(s.token_id)
        key = f"{label}{events.get(market, market)}"
        pnl[key] = pnl.get(key, ZERO) + (s.pnl or ZERO)
        staked[key] = staked.get(key, ZERO) + (s.size_usdc or ZERO) + s.fee
        if market in days:
            day[key] = f"{label}{days[market]}"
        if s.settled_shares > 0 and s.settled_price is not None:
            shares, price, first = (
                float(s.settled_shares),
                float(s.settled_price),
                s.outcome_index != 1,
            )
            leg = legs.setdefault(key, {}).setdefault(market, [0.0, 0.0, 0.0])
            leg[0] += shares if first else -shares
            leg[1] += shares * (price if first else 1.0 - price)
            leg[2] += shares
    return {
        k: MarketResult(
            float(pnl[k]),
            float(staked[k]),
            day.get(k),
            null_variance((x, q / n) for x, q, n in legs.get(k, {}).values()),
        )
        for k in pnl
    }


def return_interval(
    markets: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """P&L per dollar staked with its interval (:func:`orderflow.backtest.interval.studentized`:
    a studentized bootstrap over markets, the keys of ``markets``, never narrower than Student's
    t over the markets' resolution days, ``MarketResult.day``). A dollar staked cannot lose more
    than itself: the interval starts at -100 % at the lowest."""
    results = [markets[k] for k in sorted(markets)]
    estimate = _ratio(results)
    if estimate is None or len(results) < MIN_MARKETS:
        return Interval(estimate, None, None, len(results), confidence)
    bounds = studentized(
        [results], [r.day for r in results], confidence=confidence, draws=draws, seed=seed
    )
    if bounds is None:
        return Interval(estimate, None, None, len(results), confidence, clusters=1)
    low = max(bounds.low, -1.0)
    return Interval(estimate, low, bounds.high, len(results), confidence, clusters=bounds.clusters)


def difference_interval(
    a: Mapping[str, MarketResult],
    b: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """Return on stake of ``a`` minus that of ``b``, the same markets drawn for both (as
    :func:`return_interval`; a market's day is either side's); no interval unless each side
    staked in at least ``MIN_MARKETS`` markets."""
    keys = sorted(set(a) | set(b))
    empty = MarketResult(0.0, 0.0)
    pairs = [(a.get(k, empty), b.get(k, empty)) for k in keys]
    sides = [[x for x, _ in pairs], [y for _, y in pairs]]
    ra, rb = _ratio(sides[0]), _ratio(sides[1])
    estimate = None if ra is None or rb is None else ra - rb
    staked_a = sum(1 for r in a.values() if r.staked > 0)
    staked_b = sum(1 for r in b.values() if r.staked > 0)
    if estimate is None or min(staked_a, staked_b) < MIN_MARKETS:  # one side too thin
        thin = min(staked_a, staked_b)
        return Interval(estimate, None, None, len(pairs), confidence, thin=thin)
    days = [x.day or y.day for x, y in pairs]
    bounds = studentized(sides, days, confidence=confidence, draws=draws, seed=seed)
    if bounds is None:
        return Interval(estimate, None, None, len(pairs), confidence, clusters=1)
    return Interval(
        estimate, bounds.low, bounds.high, len(pairs), confidence, clusters=bounds.clusters
    )


def _ratio(results: Sequence[MarketResult]) -> float | None:
    staked = sum(r.staked for r in results)
    return None if staked <= 0 else sum(r.pnl for r in results) / staked


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
