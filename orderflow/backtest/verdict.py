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
had no edge it left the truth out 12 % of the time, not 5 % (tests/backtest/test_coverage.py);
the studentized one 6.5 %.

Markets resolving on one UTC day may be moved by one common factor (one election's races, one
rally's "above X" markets): then they are one draw of it, not one each. The interval's
standard error is the larger of the markets' and the one clustered by resolution day (the
markets of a day summed before squaring; the reputation run's yardstick reads the larger of
the same two), so a factor's markets count as one draw and the interval never narrows: on
worlds where 8 of 40 zero-edge markets lean one way on a factor and resolve on one day, the
interval left the truth out in 11.3 % of them with the markets' standard error, 6.3 % with the
larger one. The markets stay the units drawn: drawing days instead left too few units on the
backtest's histories (docs/backtest.md). The verdict reads the interval, never the sign of the
point estimate:

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypeVar

from orderflow.backtest.book import SignalRecord

Verdict = Literal["PAID", "LOST", "INCONCLUSIVE"]
T = TypeVar("T")
MIN_MARKETS = 10
DEFAULT_DRAWS = 2000
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MarketResult:
    """One market's total for one follower: P&L (fees in) and collateral staked, and the UTC day
    it resolved on (None: still open at the end) -- markets of one day are one cluster."""

    pnl: float
    staked: float
    day: str | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float | None  # the point estimate over all markets
    low: float | None
    high: float | None
    markets: int  # how many markets (events) were resampled
    confidence: float
    # a paired interval not drawn: the markets the thinner side staked in (fewer than MIN_MARKETS)
    thin: int | None = None

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
    with its resolution day (``days``: market id -> day, from :func:`resolution_days`)."""
    pnl: dict[str, Decimal] = {}
    staked: dict[str, Decimal] = {}
    day: dict[str, str] = {}
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
    return {k: MarketResult(float(pnl[k]), float(staked[k]), day.get(k)) for k in pnl}


def _by_day(results: Sequence[T], day_of: Callable[[T], str | None]) -> list[list[T]]:
    """The results in clusters: one per resolution day, each open one alone."""
    clusters: dict[str, list[T]] = {}
    alone = []
    for r in results:
        d = day_of(r)
        if d is None:
            alone.append([r])
        else:
            clusters.setdefault(d, []).append(r)
    return [clusters[d] for d in sorted(clusters)] + alone


def _summed(results: Sequence[MarketResult]) -> MarketResult:
    return MarketResult(sum(r.pnl for r in results), sum(r.staked for r in results))


def _ratio(results: Sequence[MarketResult]) -> float | None:
    staked = sum(r.staked for r in results)
    return None if staked <= 0 else sum(r.pnl for r in results) / staked


def _ratio_se(results: Sequence[MarketResult], ratio: float) -> float:
    """Standard error of ``sum(pnl) / sum(staked)``, linearised: each market's P&L less what
    the ratio would have made on its stake, the markets independent."""
    n, staked = len(results), sum(r.staked for r in results)
    if n < 2 or staked <= 0:
        return 0.0
    residuals = sum((r.pnl - ratio * r.staked) ** 2 for r in results)
    return math.sqrt(residuals * n / (n - 1)) / staked


def _return_with_se(results: Sequence[MarketResult]) -> tuple[float, float] | None:
    ratio = _ratio(results)
    return None if ratio is None else (ratio, _ratio_se(results, ratio))


def _difference_with_se(
    pairs: Sequence[tuple[MarketResult, MarketResult]],
) -> tuple[float, float] | None:
    """``a``'s return minus ``b``'s, and its linearised standard error (each market's two
    residuals, a's over a's total stake less b's over b's, the markets independent)."""
    a, b = [p[0] for p in pairs], [p[1] for p in pairs]
    ra, rb = _ratio(a), _ratio(b)
    if ra is None or rb is None:
        return None
    sa, sb, n = sum(r.staked for r in a), sum(r.staked for r in b), len(pairs)
    if n < 2:
        return ra - rb, 0.0
    residuals = sum(
        ((x.pnl - ra * x.staked) / sa - (y.pnl - rb * y.staked) / sb) ** 2 for x, y in pairs
    )
    return ra - rb, math.sqrt(residuals * n / (n - 1))


def _percentiles(values: list[float], confidence: float) -> tuple[float, float]:
    values.sort()
    tail = (1 - confidence) / 2
    last = len(values) - 1
    lo = values[math.floor(tail * last)]  # outward rounding: never narrower than asked
    hi = values[math.ceil((1 - tail) * last)]
    return lo, hi


def _studentized(
    units: Sequence[T],
    statistic: Callable[[Sequence[T]], tuple[float, float] | None],
    *,
    confidence: float,
    draws: int,
    seed: int,
    clustered_se: float = 0.0,
) -> tuple[float, float] | None:
    """Bootstrap-t interval of ``statistic`` (an estimate and its standard error) over ``units``
    drawn with replacement. The quantiles of t are scaled by the sample's standard error, or by
    ``clustered_se`` when that is larger (the units are not independent draws of a factor that
    moved several of them together: they count as fewer).

    A draw with no spread at all (every unit drawn alike, as when most markets lost their whole
    stake) but another estimate has an unbounded t: when such draws reach a tail, the sample
    cannot bound that side, and the bound is the farthest estimate any draw gave (as wide as
    resampling can go) rather than a number the data do not support."""
    full = statistic(units)
    if full is None:
        return None
    estimate, se = full
    if se <= 0:
        return estimate, estimate  # every unit the same: every draw is the estimate
    rng = random.Random(seed)
    n = len(units)
    ts, values = [], [estimate]
    for _ in range(draws):
        drawn = statistic([units[rng.randrange(n)] for _ in range(n)])
        if drawn is None:
            continue
        value, value_se = drawn
        values.append(value)
        if value_se > 0:
            ts.append((value - estimate) / value_se)
        else:
            ts.append(0.0 if value == estimate else math.copysign(math.inf, value - estimate))
    if not ts:
        return None
    t_low, t_high = _percentiles(ts, confidence)
    scale = max(se, clustered_se)
    low = min(values) if math.isinf(t_high) else estimate - t_high * scale
    high = max(values) if math.isinf(t_low) else estimate - t_low * scale
    return low, high


def return_interval(
    markets: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """P&L per dollar staked with a studentized bootstrap interval over markets (the keys of
    ``markets``: the units drawn), its standard error at least the one clustered by the
    markets' resolution days (``MarketResult.day``). A dollar staked cannot lose more than
    itself: the interval starts at -100 % at the lowest."""
    results = [markets[k] for k in sorted(markets)]
    estimate = _ratio(results)
    if estimate is None or len(results) < MIN_MARKETS:
        return Interval(estimate, None, None, len(results), confidence)
    days = [_summed(c) for c in _by_day(results, lambda r: r.day)]
    bounds = _studentized(
        results,
        _return_with_se,
        confidence=confidence,
        draws=draws,
        seed=seed,
        clustered_se=_ratio_se(days, estimate),
    )
    if bounds is None:
        return Interval(estimate, None, None, len(results), confidence)
    return Interval(estimate, max(bounds[0], -1.0), bounds[1], len(results), confidence)


def difference_interval(
    a: Mapping[str, MarketResult],
    b: Mapping[str, MarketResult],
    *,
    confidence: float = 0.95,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> Interval:
    """Return on stake of ``a`` minus that of ``b``, the same markets drawn for both
    (studentized, as :func:`return_interval`); no interval unless each side staked in at least
    ``MIN_MARKETS`` markets."""
    keys = sorted(set(a) | set(b))
    empty = MarketResult(0.0, 0.0)
    pairs = [(a.get(k, empty), b.get(k, empty)) for k in keys]
    full = _difference_with_se(pairs)
    estimate = None if full is None else full[0]
    staked_a = sum(1 for r in a.values() if r.staked > 0)
    staked_b = sum(1 for r in b.values() if r.staked > 0)
    if estimate is None or min(staked_a, staked_b) < MIN_MARKETS:  # one side too thin
        thin = min(staked_a, staked_b)
        return Interval(estimate, None, None, len(pairs), confidence, thin=thin)
    days = [
        (_summed([x for x, _ in c]), _summed([y for _, y in c]))
        for c in _by_day(pairs, lambda p: p[0].day or p[1].day)
    ]
    clustered = _difference_with_se(days)
    bounds = _studentized(
        pairs,
        _difference_with_se,
        confidence=confidence,
        draws=draws,
        seed=seed,
        clustered_se=0.0 if clustered is None else clustered[1],
    )
    if bounds is None:
        return Interval(estimate, None, None, len(pairs), confidence)
    return Interval(estimate, bounds[0], bounds[1], len(pairs), confidence)


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
