"""Benchmark: the score on simulated populations it was not tuned on, seed after seed.

    .venv/bin/python benchmarks/score_variants.py                     # every variant, seeds 1-3
    .venv/bin/python benchmarks/score_variants.py --variants default penny_pickers_0.97 \\
        --seeds 1 2 3 4 5 --days 90 --markets 100

Each variant is a named ``orderflow.sim.population.VARIANTS`` population (more penny pickers at
dearer favourites, market makers that also bet, wash pairs or rings of five trading at the
market's price, lucky wallets with a few large bets, a small edge traded often, a strong edge,
complete-set arbitrageurs). Each world is imported through the listener's file path into a fresh
database and scored by a full reputation run; against the hidden truth: the AUC of the score,
truly skilled vs not; the WHALE/SMART wallets, the truly skilled among them (precision) and the
traps among them (market makers, wash-ring members, penny pickers, lucky wallets, complete-set
arbitrageurs, whatever their skill); the top 15 by score. One markdown row per variant
(docs/reputation.md "Populations the score was not tuned on"). Uses ``--dsn`` /
``DATABASE_URL`` or a private embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.reputation import run_reputation  # noqa: E402
from orderflow.sim import ScoredWallet, ScoreQuality, SimConfig, score_quality, simulate  # noqa: E402
from orderflow.sim.emit import emit, write_logs  # noqa: E402
from orderflow.sim.population import VARIANTS  # noqa: E402
from orderflow.sim.quality import is_wash  # noqa: E402
from orderflow.sim.truth import Truth, truth_of  # noqa: E402

TOP_LIST = 15
ROWS = """
SELECT s.wallet_address, s.reputation_score::float8 AS score, s.trader_tier AS tier
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
"""


@dataclass(frozen=True, slots=True)
class World:
    """One scored world: the quality figures and the top of the list by score."""

    seed: int
    quality: ScoreQuality
    listed: dict[str, int]  # top TOP_LIST by score: skilled, lucky, wash, penny, maker


async def scored(pool: asyncpg.Pool) -> list[ScoredWallet]:
    """Every scored wallet's score and tier, as readers see them."""
    return [
        ScoredWallet(r["wallet_address"], float(r["score"]), r["tier"])
        for r in await pool.fetch(ROWS)
    ]


async def score_world(pool: asyncpg.Pool, sim: SimConfig, work: Path) -> tuple[Truth, World]:
    """Simulate ``sim``, import it into ``pool``'s empty database, score it, measure it."""
    world = simulate(sim)
    logs = work / f"logs-{sim.seed}.jsonl"
    write_logs(emit(world).logs, logs)
    try:
        await ingest_file(pool, logs, chain_id=sim.chain_id)
    finally:
        logs.unlink()
    await run_reputation(pool, full=True)
    truth = truth_of(world)
    scores = await scored(pool)
    tw = truth.wallet_map()
    top = [tw[s.address] for s in sorted(scores, key=lambda s: -s.score) if s.address in tw]
    top = top[:TOP_LIST]
    listed = {
        "skilled": sum(t.truly_skilled for t in top),
        "lucky": sum(t.style == "lucky" for t in top),
        "wash": sum(is_wash(t) for t in top),
        "penny": sum(t.style == "penny_picker" for t in top),
        "maker": sum(t.style == "market_maker" for t in top),
        "arb": sum(t.style == "arbitrageur" for t in top),
    }
    return truth, World(sim.seed, score_quality(scores, truth), listed)


def row(name: str, days: float, worlds: list[World]) -> str:
    aucs = [w.quality.auc for w in worlds if w.quality.auc is not None]
    q = [w.quality for w in worlds]
    top, skilled = sum(x.top_tier_wallets for x in q), sum(x.top_tier_truly_skilled for x in q)
    precision = f"{skilled / top:.2f}" if top else "—"
    auc = f"{statistics.fmean(aucs):.3f} ({min(aucs):.2f}-{max(aucs):.2f})" if aucs else "—"
    listed = " / ".join(
        f"{statistics.fmean(w.listed[k] for w in worlds):.1f}"
        for k in ("skilled", "lucky", "wash", "penny", "maker", "arb")
    )
    traps = " / ".join(
        str(sum(getattr(x, f) for x in q))
        for f in ("top_tier_market_makers", "top_tier_penny_pickers", "top_tier_wash",
                  "top_tier_lucky", "top_tier_arbitrageurs")
    )  # fmt: skip
    seeds = ",".join(str(w.seed) for w in worlds)
    return (
        f"| {name} | {days:g} | {seeds} | {sum(x.skilled_wallets for x in q)} | {auc} | "
        f"{top} ({skilled}) | {precision} | {traps} | {listed} |"
    )


HEADER = (
    "| population | days | seeds | truly skilled | AUC mean (min-max) | WHALE/SMART (skilled) "
    "| precision | makers / penny / wash / lucky / arbitrageurs in WHALE/SMART | top 15: skilled "
    "/ lucky / wash / penny / maker / arbitrageur |\n|---|---|---|---|---|---|---|---|---|"
)


async def main_async(args: argparse.Namespace) -> None:
    print(HEADER, flush=True)
    with tempfile.TemporaryDirectory(prefix="orderflow-variants-") as work:
        async with scratch_server(args.dsn) as scratch:
            for name in args.variants:
                worlds = []
                for seed in args.seeds:
                    sim = SimConfig(
                        seed=seed,
                        days=args.days,
                        markets=args.markets,
                        wallets=args.wallets,
                        population=VARIANTS[name],
                    )
                    pool = await db.create_pool(await scratch.fresh(), min_size=1, max_size=4)
                    try:
                        worlds.append((await score_world(pool, sim, Path(work)))[1])
                    finally:
                        await pool.close()
                print(row(name, args.days, worlds), flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
    p.add_argument("--markets", type=int, default=36, help="markets (default 36)")
    p.add_argument("--wallets", type=int, default=240, help="trading wallets (default 240)")
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
