"""Benchmark: does the score rank skill, seed after seed? (one seed is an anecdote)

    .venv/bin/python benchmarks/score_quality.py                 # 5 seeds, 30 days, 240 wallets
    .venv/bin/python benchmarks/score_quality.py --seeds 6 --days 90 --wallets 400

For each seed, a default ``orderflow.sim`` world is imported through the listener's file path
into a scratch database and scored by a live full reputation run; then, against the hidden
truth, in the same run:

* AUC, truly skilled vs not, of the score, of the posterior edge alone, and of realised ROI
  (the obvious baseline: what a follower without a score sorts by), with Spearman against the
  hidden skill;
* the top tiers (WHALE, SMART): wallets, truly skilled among them, and every other style there;
* the top 15 by score (the demo's list): truly skilled, wash-ring members, lucky wallets.

Then the mean and standard deviation of each figure over the seeds. Uses ``--dsn`` /
``DATABASE_URL`` (a server where it may create and drop ``orderflow_bench_*``) or else a private
embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.reputation import run_reputation  # noqa: E402
from orderflow.sim import SimConfig, simulate, truth_of  # noqa: E402
from orderflow.sim.emit import emit, write_logs  # noqa: E402
from orderflow.sim.quality import TOP_TIERS, auc, is_wash, spearman  # noqa: E402

TOP_LIST = 15

# every stats row as readers see it (posterior figures computed when read, migration 022)
POPULATION = """
SELECT prior_mean, prior_sd, skill_share, skill_mean, skill_sd FROM orderflow_reputation_population
"""
ROWS = """
SELECT s.wallet_address, s.reputation_score::float8 AS score, s.trader_tier AS tier,
       s.edge, s.roi::float8 AS roi
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
"""


@dataclass(frozen=True, slots=True)
class SeedFigures:
    seed: int
    scored: int
    skilled: int
    auc_score: float | None
    auc_edge: float | None
    auc_roi: float | None
    rho_score: float | None
    top: int
    top_skilled: int
    top_others: list[str]
    list_skilled: int
    list_wash: int
    list_lucky: int
    prior: str  # the run's prior: bulk, and its skill tail when the run kept one


def _auc(values: list[float], skilled: list[bool]) -> float | None:
    out = auc(
        [v for v, s in zip(values, skilled, strict=True) if s],
        [v for v, s in zip(values, skilled, strict=True) if not s],
    )
    return None if out is None else out[0]


async def one_seed(scratch_dsn: str, seed: int, sim: SimConfig, work: Path) -> SeedFigures:
    sim = sim.model_copy(update={"seed": seed})
    world = simulate(sim)
    logs = work / f"logs-{seed}.jsonl"
    write_logs(emit(world).logs, logs)
    truth = truth_of(world).wallet_map()
    pool = await db.create_pool(scratch_dsn, min_size=1, max_size=4)
    try:
        await ingest_file(pool, logs, chain_id=sim.chain_id)
        await run_reputation(pool, full=True)
        rows = [r for r in await pool.fetch(ROWS) if r["wallet_address"] in truth]
        pop = await pool.fetchrow(POPULATION)
    finally:
        await pool.close()
        logs.unlink()
    who = [truth[r["wallet_address"]] for r in rows]
    skilled = [t.truly_skilled for t in who]
    score = [float(r["score"]) for r in rows]
    # no measured edge or ROI: at the bottom (a follower has nothing to follow there)
    edge = [float(r["edge"]) if r["edge"] is not None else -1e9 for r in rows]
    roi = [float(r["roi"]) if r["roi"] is not None else -1e9 for r in rows]
    with_skill = [(s, t.skill) for s, t in zip(score, who, strict=True) if t.skill is not None]
    top = [t for r, t in zip(rows, who, strict=True) if r["tier"] in TOP_TIERS]
    ranked = sorted(range(len(rows)), key=lambda k: -score[k])[:TOP_LIST]
    listed = [who[k] for k in ranked]
    return SeedFigures(
        seed=seed,
        scored=len(rows),
        skilled=sum(skilled),
        auc_score=_auc(score, skilled),
        auc_edge=_auc(edge, skilled),
        auc_roi=_auc(roi, skilled),
        rho_score=spearman([a for a, _ in with_skill], [b for _, b in with_skill]),
        top=len(top),
        top_skilled=sum(t.truly_skilled for t in top),
        top_others=sorted(t.style for t in top if not t.truly_skilled),
        list_skilled=sum(t.truly_skilled for t in listed),
        list_wash=sum(is_wash(t) for t in listed),
        list_lucky=sum(t.style == "lucky" and not is_wash(t) for t in listed),
        prior=prior_text(pop),
    )


def prior_text(pop: Any) -> str:
    bulk = f"{pop['prior_mean']:+.3f} ± {pop['prior_sd']:.3f}"
    if not pop["skill_share"]:
        return f"{bulk}, no tail"
    return (
        f"{bulk}, tail {100 * pop['skill_share']:.1f} % at "
        f"{pop['skill_mean']:+.3f} ± {pop['skill_sd']:.3f}"
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _spread(values: list[float | None]) -> str:
    xs = [x for x in values if x is not None]
    if not xs:
        return "-"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.fmean(xs):.3f} ± {sd:.3f}"


def report(figures: list[SeedFigures]) -> str:
    lines = [
        "seed  scored skilled  AUC score  AUC edge  AUC roi  rho   top tiers (skilled)  "
        f"top {TOP_LIST}: skilled wash lucky  other styles in top tiers  prior"
    ]
    for f in figures:
        lines.append(
            f"{f.seed:4d}  {f.scored:6d} {f.skilled:7d}  {_fmt(f.auc_score):>9}  "
            f"{_fmt(f.auc_edge):>8}  {_fmt(f.auc_roi):>7}  {_fmt(f.rho_score):>5}  "
            f"{f.top:9d} ({f.top_skilled})  {f.list_skilled:17d} {f.list_wash:4d} "
            f"{f.list_lucky:5d}  {dict(Counter(f.top_others)) or '-'}  {f.prior}"
        )
    lines += [
        f"over {len(figures)} seeds (mean ± sd):",
        f"  AUC skilled vs not: score {_spread([f.auc_score for f in figures])}, "
        f"posterior edge {_spread([f.auc_edge for f in figures])}, "
        f"realised ROI (baseline) {_spread([f.auc_roi for f in figures])}",
        f"  Spearman(score, hidden skill): {_spread([f.rho_score for f in figures])}",
        f"  top tiers: {sum(f.top for f in figures)} wallets, "
        f"{sum(f.top_skilled for f in figures)} truly skilled, of "
        f"{sum(f.skilled for f in figures)} truly skilled scored",
        f"  top {TOP_LIST} by score: truly skilled "
        f"{_spread([float(f.list_skilled) for f in figures])}, wash-ring "
        f"{_spread([float(f.list_wash) for f in figures])}, lucky "
        f"{_spread([float(f.list_lucky) for f in figures])}",
    ]
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    print(
        f"score quality: {args.seeds} seeds from {args.first_seed}, {args.days:g} days, "
        f"{args.wallets} wallets, {args.markets} markets each",
        flush=True,
    )
    figures = []
    with tempfile.TemporaryDirectory(prefix="orderflow-quality-") as work:
        async with scratch_server(args.dsn) as scratch:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                dsn = await scratch.fresh()
                sim = SimConfig(days=args.days, wallets=args.wallets, markets=args.markets)
                figures.append(await one_seed(dsn, seed, sim, Path(work)))
    print(report(figures))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="histories (default 5)")
    p.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    p.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
    p.add_argument("--wallets", type=int, default=240, help="trading wallets (default 240)")
    p.add_argument(
        "--markets",
        type=int,
        default=36,
        help="markets (default 36): a wallet's events are "
        "at most these, so a longer history needs more of them for longer records",
    )
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
