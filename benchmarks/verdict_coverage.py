"""Benchmark: does the backtest's 95 % interval cover the truth 95 % of the time? (many seeds)

    .venv/bin/python benchmarks/verdict_coverage.py                       # 40 seeds from 100
    .venv/bin/python benchmarks/verdict_coverage.py --seeds 80 --population common_factor
    .venv/bin/python benchmarks/verdict_coverage.py --markets 40 --days 28  # longer worlds
    .venv/bin/python benchmarks/verdict_coverage.py --factor    # no database: markets on a factor
    .venv/bin/python benchmarks/verdict_coverage.py --neg-risk  # no database: neg-risk legs

Each seed is a small world (``SimConfig.small``; ``--markets``, ``--wallets``, ``--days`` scale
it) where nobody is skilled (``skilled_share`` 0), run through the whole pipeline: simulate,
ingest into a scratch database, walk-forward backtest with the reputation scorer (the demo's
strategy and baselines). For each baseline the truth is known: its expected return per dollar on
the positions it took, every fill's shares times the simulator's hidden probability of its token
at the order's first fill (at the decision before fills were booked when they came), less the
stake (the same for the positions still open at the end); for the paired difference follow-all
minus follow-random, the difference of the two truths. The benchmark counts how often the
interval misses that truth (nominal 5 %), for three variants:
**events** (a neg-risk event's legs together, any other market alone, no resolution days: every
market its own cluster), **days** (the verdict: the same events, clustered by the UTC day they
resolved on) and **drawn** (days as the resampling unit: measured, not shipped).
docs/backtest.md ("The verdict, with error bars") quotes its figures. ``--save FILE`` writes
each seed's markets (P&L, stake, day) and truths as JSON, to measure another interval on the
same runs without the pipeline.

``--factor``: markets tied by a common factor. 300 worlds of zero-edge markets (bought at their
true probability, 0.2-0.8) resolving at uniform times, 0, 4 or 8 of them bought on the same side
of one factor (a one-factor Gaussian copula, correlation 0.9, each market's own P(YES)
unchanged), the tied ones resolving within 6 hours of the factor's reveal or over two weeks;
20 markets over 14 days and 40 over 28: how often each unit's interval leaves the true return 0
out, and in how many worlds it gives an interval at all (at least 10 units).

``--neg-risk``: zero-edge followers in neg-risk events (3-6 candidates, one wins), two or three
legs bought in each, YES, NO or either: each event one unit (the verdict) against its legs drawn
one by one; single and paired (two such followers) intervals, 300 worlds each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.backtest import BacktestOptions, run_backtest  # noqa: E402
from orderflow.backtest.book import SignalRecord  # noqa: E402
from orderflow.backtest.scoring import reputation_scorer  # noqa: E402
from orderflow.backtest.verdict import (  # noqa: E402
    Interval,
    MarketResult,
    by_market,
    difference_interval,
    resolution_days,
    return_interval,
)
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.demo.pipeline import demo_strategy  # noqa: E402
from orderflow.sim import SimConfig, simulate  # noqa: E402
from orderflow.sim.emit import emit, write_logs  # noqa: E402
from orderflow.sim.population import VARIANTS  # noqa: E402

BASELINES = ("follow-all", "follow-random")
PAIR = "all - random"  # the paired difference follow-all minus follow-random
UNITS = ("events", "days", "drawn")


@dataclass(frozen=True, slots=True)
class Row:
    follower: str  # a baseline, or PAIR
    units: str  # "events" or "days"
    truth: float
    interval: Interval


async def one_seed(
    dsn: str, sim: SimConfig, work: Path, saved: list[dict[str, object]] | None = None
) -> list[Row]:
    world = simulate(sim)
    logs = work / f"logs-{sim.seed}.jsonl"
    write_logs(emit(world).logs, logs)
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        await ingest_file(pool, logs, chain_id=sim.chain_id)
        options = BacktestOptions(step_secs=86_400, seed=sim.seed)
        async with pool.acquire() as conn:
            report = await run_backtest(conn, demo_strategy(sim), options, reputation_scorer(None))
    finally:
        await pool.close()
        logs.unlink()
    if report is None:
        return []
    events = report.events
    tokens = {}
    for c in world.conditions:
        tokens[int(c.token_ids[0])], tokens[int(c.token_ids[1])] = (c, 0), (c, 1)
    truth: dict[str, float] = {}
    signals: dict[str, list[SignalRecord]] = {}
    for run in report.result.runs:
        if run.follower.name not in BASELINES:
            continue
        expected = staked = 0.0
        for s in run.book.signals:
            if s.status != "EXECUTED" or not s.is_entry:
                continue
            condition, outcome = tokens[s.token_id]
            # at its first fill: the order rests and fills when the book that meets it comes
            p_yes = condition.truth((s.first_fill or s.time).timestamp())
            cost = float((s.size_usdc or 0) + s.fee)
            expected += float(s.shares) * (p_yes if outcome == 0 else 1 - p_yes) - cost
            staked += cost
        if staked > 0:
            truth[run.follower.name] = expected / staked
            signals[run.follower.name] = run.book.signals
    drawn_by_day = {m: f"day:{d}" for m, d in report.days.items()}
    variants: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        "events": (events, {}),  # the verdict before: events alone
        "days": (events, report.days),  # now: the standard error clustered by day
        "drawn": ({**events, **drawn_by_day}, {}),  # measured, not the verdict: days resampled
    }
    if saved is not None:  # the markets and truths, for --load (any interval, no pipeline)
        saved.append(
            {
                "seed": sim.seed,
                "truth": truth,
                "markets": {
                    f: {
                        k: [r.pnl, r.staked, r.day]
                        for k, r in by_market(s, "", *variants["days"]).items()
                    }
                    for f, s in signals.items()
                },
            }
        )
    rows = []
    for name, (units, days) in variants.items():
        markets = {f: by_market(s, "", units, days) for f, s in signals.items()}
        for f, m in markets.items():
            rows.append(Row(f, name, truth[f], return_interval(m, seed=sim.seed)))
        if len(markets) == len(BASELINES):
            a, b = (markets[f] for f in BASELINES)
            d = difference_interval(a, b, seed=sim.seed)
            rows.append(Row(PAIR, name, truth[BASELINES[0]] - truth[BASELINES[1]], d))
    return rows


def summary(rows: list[Row], seeds: int) -> str:
    lines = [f"{'follower':<14} {'units':<7} intervals  misses  (PAID, LOST)  mean width"]
    for name in (*BASELINES, PAIR):
        for units in UNITS:
            mine = [r for r in rows if r.follower == name and r.units == units]
            have = [r for r in mine if r.interval.low is not None and r.interval.high is not None]
            if not mine:
                continue
            miss = [
                r for r in have if not (r.interval.low or 0) <= r.truth <= (r.interval.high or 0)
            ]
            paid = sum(r.interval.verdict == "PAID" for r in have)
            lost = sum(r.interval.verdict == "LOST" for r in have)
            width = sum((r.interval.high or 0) - (r.interval.low or 0) for r in have)
            lines.append(
                f"{name:<14} {units:<7} {len(have):>3}/{len(mine):<3}    "
                f"{len(miss) / max(len(have), 1):>5.1%}   ({paid}, {lost})        "
                f"{width / max(len(have), 1):.2f}"
            )
    return "\n".join(lines) + f"\n({seeds} seeds)"


T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _factor_markets(
    rng: random.Random, markets: int, days: int, tied: int, spread_days: float
) -> tuple[dict[str, MarketResult], dict[str, datetime]]:
    normal, factor, revealed = NormalDist(), rng.gauss(0, 1), rng.uniform(0, days - 1)
    results, resolved = {}, {}
    for i in range(markets):
        p = rng.uniform(0.2, 0.8)
        if i < tied:
            z = 0.9**0.5 * factor + 0.1**0.5 * rng.gauss(0, 1)
            won = z < normal.inv_cdf(p)
            at = revealed + rng.uniform(0, spread_days)
        else:
            won = rng.random() < p
            at = rng.uniform(0, days)
        results[f"m{i}"] = MarketResult(100 * (1 / p - 1) if won else -100.0, 100.0)
        resolved[f"m{i}"] = T0 + timedelta(days=at)
    return results, resolved


def _variants(
    results: Mapping[str, MarketResult], resolved: Mapping[str, datetime]
) -> dict[str, dict[str, MarketResult]]:
    """The markets as each variant sees them: alone (events), with their resolution day (days:
    the standard error clustered by it), summed per day (drawn: days resampled)."""
    days = resolution_days({}, resolved)
    drawn: dict[str, MarketResult] = {}
    for market, r in results.items():
        before = drawn.get(days[market], MarketResult(0.0, 0.0))
        drawn[days[market]] = MarketResult(before.pnl + r.pnl, before.staked + r.staked)
    return {
        "events": dict(results),
        "days": {m: MarketResult(r.pnl, r.staked, days[m]) for m, r in results.items()},
        "drawn": drawn,
    }


def factor_worlds(worlds: int = 300) -> str:
    lines = []
    for markets, days in ((20, 14), (40, 28)):
        for tied, spread in ((0, 0.0), (4, 0.25), (8, 0.25), (8, 14.0)):
            counts = {u: [0, 0] for u in UNITS}  # intervals, misses
            for w in range(worlds):
                rng = random.Random(w + 31)
                variants = _variants(*_factor_markets(rng, markets, days, tied, spread))
                for units, grouped in variants.items():
                    i = return_interval(grouped, draws=500, seed=w)
                    if i.low is not None and i.high is not None:
                        counts[units][0] += 1
                        counts[units][1] += not i.low <= 0 <= i.high
            how = "none tied" if not tied else f"{tied} tied, resolving over {spread * 24:g} h"
            lines.append(
                f"{markets} markets over {days} days, {how}: "
                + "; ".join(
                    f"{u} miss {m / max(n, 1):.1%} of {n} worlds with an interval"
                    for u, (n, m) in counts.items()
                )
            )
    return "\n".join(lines)


def _neg_risk_positions(
    rng: random.Random, events: int, legs: int, sides: str
) -> list[tuple[str, str, MarketResult]]:
    """A zero-edge follower in neg-risk events: each event 3-6 candidates (probabilities from a
    flat Dirichlet, 0.03 at least), exactly one wins; ``legs`` of them bought at their true
    price, YES, NO or either (``sides``). (event, leg, result) per position."""
    out = []
    for e in range(events):
        k = rng.randint(3, 6)
        weights = [rng.gammavariate(1.0, 1.0) for _ in range(k)]
        p = [max(0.03, min(0.97, x / sum(weights))) for x in weights]
        p = [x / sum(p) for x in p]
        winner = rng.choices(range(k), weights=p)[0]
        for i in rng.sample(range(k), legs):
            yes = sides == "yes" or (sides == "mixed" and rng.random() < 0.5)
            price, won = (p[i], i == winner) if yes else (1 - p[i], i != winner)
            out.append(
                (f"e{e}", f"e{e}-{i}", MarketResult(100 / price - 100 if won else -100.0, 100.0))
            )
    return out


def neg_risk_worlds(worlds: int = 300) -> str:
    """Each neg-risk event one unit (the verdict) against its legs drawn one by one."""
    lines = []
    for sides in ("yes", "no", "mixed"):
        for events, legs in ((10, 2), (12, 3), (20, 2)):
            miss = {"legs": [0, 0], "events": [0, 0]}  # single, paired
            for w in range(worlds):
                a = _neg_risk_positions(random.Random(10_000 + w), events, legs, sides)
                b = _neg_risk_positions(random.Random(50_000 + w), events, legs, sides)
                for unit, by_event in (("legs", False), ("events", True)):
                    ua, ub = (_units(x, by_event) for x in (a, b))
                    i, d = (
                        return_interval(ua, draws=500, seed=w),
                        difference_interval(ua, ub, draws=500, seed=w),
                    )
                    miss[unit][0] += not (i.low or 0) <= 0 <= (i.high or 0)
                    miss[unit][1] += not (d.low or 0) <= 0 <= (d.high or 0)
            lines.append(
                f"{sides:<5} {events} events x {legs} legs: "
                + "; ".join(
                    f"{u} miss {s / worlds:.1%} (paired {p / worlds:.1%})"
                    for u, (s, p) in miss.items()
                )
            )
    return "\n".join(lines)


def _units(
    positions: list[tuple[str, str, MarketResult]], by_event: bool
) -> dict[str, MarketResult]:
    out: dict[str, MarketResult] = {}
    for event, leg, r in positions:
        key = event if by_event else leg
        before = out.get(key, MarketResult(0.0, 0.0))
        out[key] = MarketResult(before.pnl + r.pnl, before.staked + r.staked)
    return out


async def main_async(args: argparse.Namespace) -> None:
    if args.factor:
        print(factor_worlds())
        return
    if args.neg_risk:
        print(neg_risk_worlds())
        return
    population = VARIANTS[args.population].model_copy(update={"skilled_share": 0.0})
    scale = {
        k: v
        for k, v in (("markets", args.markets), ("wallets", args.wallets), ("days", args.days))
        if v
    }
    print(
        f"verdict coverage: {args.seeds} seeds from {args.first_seed}, population "
        f"{args.population} without skill, SimConfig.small {scale or ''}",
        flush=True,
    )
    rows: list[Row] = []
    saved: list[dict[str, object]] | None = None if args.save is None else []
    with tempfile.TemporaryDirectory(prefix="orderflow-coverage-") as work:
        async with scratch_server(args.dsn) as scratch:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                dsn = await scratch.fresh()
                sim = SimConfig.small(seed=seed, population=population, **scale)
                rows += await one_seed(dsn, sim, Path(work), saved)
                if args.save is not None:
                    args.save.write_text(json.dumps(saved))
    print(summary(rows, args.seeds))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=40, help="worlds (default 40)")
    p.add_argument("--first-seed", type=int, default=100, help="the first seed (default 100)")
    p.add_argument(
        "--population", default="default", choices=sorted(VARIANTS), help="a population variant"
    )
    p.add_argument("--markets", type=int, help="markets per world (SimConfig.small: 20)")
    p.add_argument("--wallets", type=int, help="wallets per world (SimConfig.small: 80)")
    p.add_argument("--days", type=float, help="days per world (SimConfig.small: 14)")
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    p.add_argument("--factor", action="store_true", help="markets on a common factor, no database")
    p.add_argument("--neg-risk", action="store_true", help="neg-risk events' legs, no database")
    p.add_argument("--save", type=Path, help="write each seed's markets and truths (JSON)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
