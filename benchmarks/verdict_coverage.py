"""Benchmark: does the backtest's 95 % interval cover the truth 95 % of the time? (many seeds)

    .venv/bin/python benchmarks/verdict_coverage.py                       # 40 seeds from 100
    .venv/bin/python benchmarks/verdict_coverage.py --seeds 80 --population common_factor
    .venv/bin/python benchmarks/verdict_coverage.py --factor    # no database: markets on a factor

Each seed is a small world (``SimConfig.small``) where nobody is skilled (``skilled_share`` 0),
run through the whole pipeline: simulate, ingest into a scratch database, walk-forward backtest
with the reputation scorer (the demo's strategy and baselines). For each baseline the truth is
known: its expected return per dollar on the positions it took, every fill's shares times the
simulator's hidden probability of its token at the decision, less the stake (the same for the
positions still open at the end). The benchmark counts how often the verdict's interval misses
that truth (nominal 5 %) and how often it says PAID or LOST, next to the percentile interval the
verdict used before (the central 95 % of the bootstrap draws, over the same markets).
docs/backtest.md ("The verdict, with error bars") quotes its figures.

``--factor``: what the interval cannot see, markets tied by a common factor. 300 worlds of 20
zero-edge markets (bought at their true probability, 0.2-0.8), 0, 4 or 8 of them bought on the
same side of one factor (a one-factor Gaussian copula, correlation 0.9, each market's own P(YES)
unchanged): how often the interval leaves the true return 0 out (docs/backtest.md, "Limits").
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.backtest import BacktestOptions, run_backtest  # noqa: E402
from orderflow.backtest.scoring import reputation_scorer  # noqa: E402
from orderflow.backtest.verdict import MarketResult, by_market, return_interval  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.demo.pipeline import demo_strategy  # noqa: E402
from orderflow.sim import SimConfig, simulate  # noqa: E402
from orderflow.sim.emit import emit, write_logs  # noqa: E402
from orderflow.sim.population import VARIANTS  # noqa: E402

BASELINES = ("follow-all", "follow-random")


@dataclass(frozen=True, slots=True)
class Row:
    follower: str
    truth: float
    low: float | None
    high: float | None
    before: tuple[float, float] | None  # the percentile interval


def percentile_interval(markets: dict[str, MarketResult], seed: int) -> tuple[float, float] | None:
    """The interval the verdict read before: the central 95 % of 2,000 draws' returns."""
    units = [markets[k] for k in sorted(markets)]
    if len(units) < 10:
        return None
    rng, n, values = random.Random(seed), len(units), []
    for _ in range(2000):
        drawn = [units[rng.randrange(n)] for _ in range(n)]
        staked = sum(u.staked for u in drawn)
        if staked > 0:
            values.append(sum(u.pnl for u in drawn) / staked)
    values.sort()
    last = len(values) - 1
    return values[math.floor(0.025 * last)], values[math.ceil(0.975 * last)]


async def one_seed(dsn: str, sim: SimConfig, work: Path) -> list[Row]:
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
    tokens = {}
    for c in world.conditions:
        tokens[int(c.token_ids[0])], tokens[int(c.token_ids[1])] = (c, 0), (c, 1)
    rows = []
    for run, verdict in zip(report.result.runs, report.verdicts, strict=True):
        if run.follower.name not in BASELINES:
            continue
        expected = staked = 0.0
        for s in run.book.signals:
            if s.status != "EXECUTED" or not s.is_entry:
                continue
            condition, outcome = tokens[s.token_id]
            p_yes = condition.truth(s.time.timestamp())
            cost = float((s.size_usdc or 0) + s.fee)
            expected += float(s.shares) * (p_yes if outcome == 0 else 1 - p_yes) - cost
            staked += cost
        if staked <= 0:
            continue
        markets = by_market(run.book.signals, events=report.events)
        i = verdict.interval
        before = percentile_interval(markets, sim.seed)
        rows.append(Row(run.follower.name, expected / staked, i.low, i.high, before))
    return rows


def summary(rows: list[Row]) -> str:
    lines = []
    for name in BASELINES:
        mine = [r for r in rows if r.follower == name and r.low is not None and r.high is not None]
        if not mine:
            continue
        n = len(mine)
        miss = sum(not (r.low or 0) <= r.truth <= (r.high or 0) for r in mine)
        paid = sum((r.low or 0) > 0 for r in mine)
        lost = sum((r.high or 0) < 0 for r in mine)
        before = [(r, r.before) for r in mine if r.before is not None]
        b_miss = sum(not lo <= r.truth <= hi for r, (lo, hi) in before)
        b_lost = sum(hi < 0 for _, (_, hi) in before)
        lines.append(
            f"{name:<14} {n} seeds with an interval: misses the truth {miss / n:.1%} "
            f"(PAID {paid}, LOST {lost}); the percentile interval {b_miss / len(before):.1%} "
            f"(LOST {b_lost})"
        )
    return "\n".join(lines)


def factor_worlds(worlds: int = 300, markets: int = 20) -> str:
    normal, lines = NormalDist(), []
    for tied in (0, 4, 8):
        excluded = 0
        for w in range(worlds):
            rng = random.Random(w + 31)
            factor, results = rng.gauss(0, 1), {}
            for i in range(markets):
                p = rng.uniform(0.2, 0.8)
                if i < tied:
                    z = 0.9**0.5 * factor + 0.1**0.5 * rng.gauss(0, 1)
                    won = z < normal.inv_cdf(p)
                else:
                    won = rng.random() < p
                results[f"m{i}"] = MarketResult(100 * (1 / p - 1) if won else -100.0, 100.0)
            i = return_interval(results, draws=500, seed=w)
            excluded += not (i.low or 0) <= 0 <= (i.high or 0)
        lines.append(
            f"{markets} markets, {tied} on one factor (same side): the interval left the true "
            f"return out in {excluded / worlds:.1%} of {worlds} worlds"
        )
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    if args.factor:
        print(factor_worlds())
        return
    population = VARIANTS[args.population].model_copy(update={"skilled_share": 0.0})
    print(
        f"verdict coverage: {args.seeds} seeds from {args.first_seed}, population "
        f"{args.population} without skill, SimConfig.small",
        flush=True,
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="orderflow-coverage-") as work:
        async with scratch_server(args.dsn) as scratch:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                dsn = await scratch.fresh()
                sim = SimConfig.small(seed=seed, population=population)
                rows += await one_seed(dsn, sim, Path(work))
    print(summary(rows))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=40, help="worlds (default 40)")
    p.add_argument("--first-seed", type=int, default=100, help="the first seed (default 100)")
    p.add_argument(
        "--population", default="default", choices=sorted(VARIANTS), help="a population variant"
    )
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    p.add_argument("--factor", action="store_true", help="markets on a common factor, no database")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
