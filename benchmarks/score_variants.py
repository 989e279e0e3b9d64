"""Benchmark: the score on simulated populations it was not tuned on, seed after seed.

    .venv/bin/python benchmarks/score_variants.py                     # every variant, seeds 1-3
    .venv/bin/python benchmarks/score_variants.py --variants default penny_pickers_0.97 \\
        --seeds 1 2 3 4 5 --days 90 --markets 100
    .venv/bin/python benchmarks/score_variants.py --variants common_factor --seeds 1 2 3 \\
        --detail partisan        # and each partisan's tier, score and evidence, world by world

Each variant is a named ``orderflow.sim.population.VARIANTS`` population (more penny pickers at
dearer favourites, market makers that also bet, wash pairs or rings of five trading at the
market's price, lucky wallets with a few large bets, a small edge traded often, a strong edge,
complete-set arbitrageurs, partisans of a common factor). Each world is imported through the
listener's file path into a fresh database and scored by a full reputation run; against the
hidden truth: the AUC of the score, truly skilled vs not; the WHALE/SMART wallets, the truly
skilled among them (precision) and the traps among them (``sim.quality.TRAPS``: market makers,
wash-ring members, penny pickers, lucky wallets, complete-set arbitrageurs, partisans, copiers,
lucky whales, whatever their skill, and late favourite buyers without it) and the sybil wallets
(skilled or not); the partisans in DEGEN; the top 15 by score, by the same kinds. One markdown
row per variant (docs/reputation.md "Populations the score was not tuned on"). Uses ``--dsn`` /
``DATABASE_URL`` or a private embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
from score_quality import POPULATION, prior_text  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.chain.ingest import ingest_file  # noqa: E402
from orderflow.reputation import run_reputation  # noqa: E402
from orderflow.sim import ScoredWallet, ScoreQuality, SimConfig, score_quality, simulate  # noqa: E402
from orderflow.sim.emit import emit, write_logs  # noqa: E402
from orderflow.sim.population import VARIANTS  # noqa: E402
from orderflow.sim.quality import TRAPS, is_sybil  # noqa: E402
from orderflow.sim.truth import Truth, TruthWallet, truth_of  # noqa: E402

TOP_LIST = 15
ROWS = """
SELECT s.wallet_address, s.reputation_score::float8 AS score, s.trader_tier AS tier
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
"""
# the wallet's resolved taker markets by the UTC day they resolved: how many days, and the most
# markets on one day (markets resolving together are not independent evidence)
DETAIL = """
SELECT s.wallet_address, s.reputation_score::float8 AS score, s.trader_tier AS tier, s.flags,
       orderflow_factors(s)->'posterior' AS posterior, c.days, c.top_day, c.markets,
       (orderflow_factors(s)->'behaviour'->>'hedged_share')::float8 AS hedged
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
  LEFT JOIN LATERAL (
        SELECT count(*) AS days, max(n) AS top_day, sum(n) AS markets
          FROM (SELECT date_trunc('day', o.resolved_at) AS d, count(DISTINCT t.market_id) AS n
                  FROM orderflow_trades t
                  JOIN orderflow_market_outcomes o ON o.market_id = t.market_id
                 WHERE t.wallet_address = s.wallet_address AND t.is_taker_aggregate
                 GROUP BY 1) x) c ON true
 WHERE s.wallet_address = ANY($1::text[]) OR ($2 AND s.trader_tier IN ('WHALE', 'SMART', 'DEGEN'))
"""
# the top 15's columns: the truly skilled, each trap of TRAPS (by its label), the sybils
LISTED = {
    "skilled": "skilled",
    "lucky": "lucky wallets",
    "wash": "wash wallets",
    "penny": "penny pickers",
    "maker": "market makers",
    "arbitrageur": "complete-set arbitrageurs",
    "partisan": "partisans",
    "copier": "copiers",
    "late buyer": "late favourite buyers",
    "lucky whale": "lucky whales",
    "sybil": "sybils",
}
# the WHALE/SMART trap columns: ScoreQuality's counts, in the header's order
TOP_TIER = {
    "makers": "top_tier_market_makers",
    "penny": "top_tier_penny_pickers",
    "wash": "top_tier_wash",
    "lucky": "top_tier_lucky",
    "arbitrageurs": "top_tier_arbitrageurs",
    "partisans": "top_tier_partisans",
    "copiers": "top_tier_copiers",
    "late buyers": "top_tier_late_buyers",
    "lucky whales": "top_tier_lucky_whales",
    "sybils": "top_tier_sybils",
}


@dataclass(frozen=True, slots=True)
class World:
    """One scored world: the quality figures and the top of the list by score."""

    seed: int
    quality: ScoreQuality
    listed: dict[str, int]  # top TOP_LIST by score: LISTED's labels


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
    return truth, World(sim.seed, score_quality(scores, truth), top_listed(top))


def top_listed(top: list[TruthWallet]) -> dict[str, int]:
    """The top of the list by ``LISTED``'s labels: truly skilled, each trap, sybils."""
    members = {trap.label: trap.member for trap in TRAPS}
    members["skilled"] = lambda t: t.truly_skilled
    members["sybils"] = is_sybil
    return {label: sum(members[label](t) for t in top) for label in LISTED.values()}


async def detail(pool: asyncpg.Pool, truth: Truth, style: str) -> list[str]:
    """One line per wallet of ``style`` (``tiers``: every WHALE, SMART and DEGEN wallet): its
    style, lean against the factor's draw (partisans), tier, score, flags, events, the UTC days
    its resolved taker markets resolved on and the most on one day, measured edge and its z,
    outcome and closing-line edges, the posterior, P(edge > cost) and its share of buy stake in
    complete sets (HEDGED's figure)."""
    tw = truth.wallet_map()
    chosen = [w.address for w in truth.wallets if w.style == style]
    rows = await pool.fetch(DETAIL, chosen, style == "tiers")
    factor = truth.theme_factor or 0.0
    out = []
    for r in sorted(rows, key=lambda r: -r["score"]):
        w, raw = tw[r["wallet_address"]], r["posterior"]
        p = json.loads(raw) if isinstance(raw, str) else raw
        side = "won" if w.lean * factor > 0 else "lost" if w.lean else "-"
        m, se = p.get("measured"), p.get("measured_se")
        z = f"{m / se:+.1f}" if m is not None and se else "—"
        out.append(
            f"  {w.address[:10]} {w.style[:8]:8} skill {w.skill:+.3f} factor {side:4} "
            f"{r['tier']:8} {r['score']:5.2f} {','.join(r['flags']) or '-':10} events "
            f"{p.get('events')} days {r['days']} (top {r['top_day']} of {r['markets']}) "
            f"m {_f(m)} (z {z}) "
            f"outcome {_f(p.get('outcome_edge'))}±{_f(p.get('outcome_se'))} "
            f"clv {_f(p.get('clv_edge'))}±{_f(p.get('clv_se'))} "
            f"post {_f(p.get('edge'))} P>cost {_f(p.get('p_edge_above_cost'))} "
            f"hedged {_f(r['hedged'])}"
        )
    return out


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def row(name: str, days: float, worlds: list[World]) -> str:
    aucs = [w.quality.auc for w in worlds if w.quality.auc is not None]
    q = [w.quality for w in worlds]
    top, skilled = sum(x.top_tier_wallets for x in q), sum(x.top_tier_truly_skilled for x in q)
    precision = f"{skilled / top:.2f}" if top else "—"
    auc = f"{statistics.fmean(aucs):.3f} ({min(aucs):.2f}-{max(aucs):.2f})" if aucs else "—"
    listed = " / ".join(
        f"{statistics.fmean(w.listed[k] for w in worlds):.1f}" for k in LISTED.values()
    )
    traps = " / ".join(str(sum(getattr(x, f) for x in q)) for f in TOP_TIER.values())
    seeds = ",".join(str(w.seed) for w in worlds)
    return (
        f"| {name} | {days:g} | {seeds} | {sum(x.skilled_wallets for x in q)} | {auc} | "
        f"{top} ({skilled}) | {precision} | {traps} | "
        f"{sum(x.partisans_in_degen for x in q)} | {listed} |"
    )


HEADER = (
    "| population | days | seeds | truly skilled | AUC mean (min-max) | WHALE/SMART (skilled) "
    f"| precision | {' / '.join(TOP_TIER)} in WHALE/SMART | partisans in DEGEN "
    f"| top {TOP_LIST}: {' / '.join(LISTED)} |\n|---|---|---|---|---|---|---|---|---|---|"
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
                        truth, world = await score_world(pool, sim, Path(work))
                        worlds.append(world)
                        if args.detail:
                            q = world.quality
                            prior = prior_text(await pool.fetchrow(POPULATION))
                            print(
                                f"{name} seed {seed}: factor {truth.theme_factor}, AUC "
                                f"{_f(q.auc)}, partisans in WHALE/SMART "
                                f"{q.top_tier_partisans}, in DEGEN {q.partisans_in_degen}, "
                                f"prior {prior}",
                                file=sys.stderr,
                            )
                            for line in await detail(pool, truth, args.detail):
                                print(line, file=sys.stderr)
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
    p.add_argument(
        "--detail",
        metavar="STYLE",
        help="print each wallet of STYLE (e.g. partisan; tiers: every WHALE, SMART and DEGEN "
        "wallet) world by world on stderr",
    )
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
