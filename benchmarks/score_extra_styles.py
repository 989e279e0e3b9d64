"""Benchmark: the score on the populations of ``orderflow.sim.extra_styles``, seed after seed.

    .venv/bin/python benchmarks/score_extra_styles.py                  # every one, seeds 1-3
    .venv/bin/python benchmarks/score_extra_styles.py --variants copy_traders --seeds 1 2 3 4
    .venv/bin/python benchmarks/score_extra_styles.py --strong --days 60 --markets 70

Copy-trading bots, late favourite buyers and late insiders, neg-risk leg traders, lucky whales
and skilled operators split over sybil wallets (docs/simulator.md "Population variants"). Each
world runs the real pipeline (simulate, the listener's file import into a fresh database, a full
reputation run; ``score_variants.score_world``) and prints one line per world on stdout: the
population's own wallets by tier (WHALE/SMART/AVERAGE/NOVICE/DEGEN, and how many flagged), how
many of them are truly skilled among the top tiers, every trap of ``sim.quality.TRAPS`` in
WHALE/SMART, the truly skilled wallets in WHALE/SMART of all, and the AUC; for copiers, how many
score above their leader. ``--detail`` prints each of the population's wallets on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg  # noqa: E402
from score_variants import score_world  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.sim import SimConfig  # noqa: E402
from orderflow.sim.population import VARIANTS, Population  # noqa: E402
from orderflow.sim.quality import TOP_TIERS  # noqa: E402
from orderflow.sim.truth import Truth, TruthWallet  # noqa: E402

EXTRA = {
    "copy_traders": "copier",
    "copy_list_traders": "copier",
    "late_favourite_buyers": "late_buyer",
    "late_insiders": "late_buyer",
    "neg_risk_leg_traders": "leg_trader",
    "lucky_whales": "lucky_whale",
    "sybil_skilled": "sybil",
}
ROWS = """
SELECT s.wallet_address, s.reputation_score::float8 AS score, s.trader_tier AS tier, s.flags,
       orderflow_factors(s)->'posterior' AS posterior
  FROM orderflow_wallet_stats w CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
"""
TIERS = ("WHALE", "SMART", "AVERAGE", "NOVICE", "DEGEN")


def members(truth: Truth, kind: str) -> list[TruthWallet]:
    """The population's own wallets: its style's, or the sybil groups'."""
    if kind == "sybil":
        return [w for w in truth.wallets if w.sybil_group is not None]
    return [w for w in truth.wallets if w.style == kind]


async def world_line(pool: asyncpg.Pool, name: str, seed: int, truth: Truth, auc: str) -> str:
    rows = {r["wallet_address"]: r for r in await pool.fetch(ROWS)}
    tw = truth.wallet_map()
    own = [w for w in members(truth, EXTRA[name]) if w.address in rows]
    tiers = Counter(rows[w.address]["tier"] for w in own)
    flagged = sum(1 for w in own if rows[w.address]["flags"])
    top = [w for w in own if rows[w.address]["tier"] in TOP_TIERS]
    skilled_top = sum(1 for a, r in rows.items() if r["tier"] in TOP_TIERS and a in tw and
                      tw[a].truly_skilled)  # fmt: skip
    all_top = sum(1 for r in rows.values() if r["tier"] in TOP_TIERS)
    extra = ""
    if EXTRA[name] == "copier":
        pairs = [(rows[w.address], rows.get(w.leader or "")) for w in own]
        above = sum(1 for c, lead in pairs if lead is not None and c["score"] > lead["score"])
        leaders = {w.leader for w in own}
        lead_tiers = Counter(rows[a]["tier"] for a in leaders if a in rows)
        extra = f"; above their leader {above} of {len(pairs)}; leaders' tiers {dict(lead_tiers)}"
    return (
        f"| {name} | {seed} | {len(own)} | "
        + " / ".join(str(tiers.get(t, 0)) for t in TIERS)
        + f" | {flagged} | {len(top)} ({sum(w.truly_skilled for w in top)}) | "
        f"{all_top} ({skilled_top}) | {auc}{extra} |"
    )


async def detail(pool: asyncpg.Pool, truth: Truth, kind: str) -> list[str]:
    rows = {r["wallet_address"]: r for r in await pool.fetch(ROWS)}
    out = []
    for w in sorted(
        members(truth, kind), key=lambda w: -rows.get(w.address, {"score": 0})["score"]
    ):
        r = rows.get(w.address)
        if r is None:
            continue
        raw = r["posterior"]
        p = (json.loads(raw) if isinstance(raw, str) else raw) or {}
        lead = rows.get(w.leader or "")
        out.append(
            f"  {w.address[:10]} {w.style:11} skill {w.skill:+.3f} {r['tier']:8} "
            f"{r['score']:5.2f} {','.join(r['flags']) or '-':12} events {p.get('events')} "
            f"m {p.get('measured')} se {p.get('measured_se')} "
            f"P>cost {p.get('p_edge_above_cost')}"
            + (f" leader {lead['tier']} {lead['score']:.2f} P>cost {_p(lead)}" if lead else "")
        )
    return out


def _population(name: str, strong: bool) -> Population:
    """The variant, or with ``strong`` the variant in the positive control's market: its skilled
    share, range and activity (``skilled_many_strong``), where the top tiers are open."""
    pop = VARIANTS[name]
    if not strong:
        return pop
    control = VARIANTS["skilled_many_strong"]
    fields = ("skilled_share", "skilled_range", "skilled_activity")
    return pop.model_copy(update={f: getattr(control, f) for f in fields})


def _p(row: asyncpg.Record) -> object:
    raw = row["posterior"]
    p = (json.loads(raw) if isinstance(raw, str) else raw) or {}
    return p.get("p_edge_above_cost")


async def main_async(args: argparse.Namespace) -> None:
    print(
        "| population | seed | its wallets | WHALE / SMART / AVERAGE / NOVICE / DEGEN | flagged "
        "| its WHALE/SMART (truly skilled) | all WHALE/SMART (truly skilled) | AUC |\n"
        "|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="orderflow-extra-") as work:
        async with scratch_server(args.dsn) as scratch:
            for name in args.variants:
                for seed in args.seeds:
                    sim = SimConfig(
                        seed=seed,
                        days=args.days,
                        markets=args.markets,
                        wallets=args.wallets,
                        population=_population(name, args.strong),
                    )
                    pool = await db.create_pool(await scratch.fresh(), min_size=1, max_size=4)
                    try:
                        truth, world = await score_world(pool, sim, Path(work))
                        q = world.quality
                        auc = "—" if q.auc is None else f"{q.auc:.3f}"
                        print(await world_line(pool, name, seed, truth, auc), flush=True)
                        traps = q.traps_text()
                        print(f"  traps in WHALE/SMART: {traps}", file=sys.stderr)
                        if args.detail:
                            for line in await detail(pool, truth, EXTRA[name]):
                                print(line, file=sys.stderr)
                    finally:
                        await pool.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--variants", nargs="+", choices=sorted(EXTRA), default=list(EXTRA))
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--days", type=float, default=30.0, help="days of history (default 30)")
    p.add_argument("--markets", type=int, default=36, help="markets (default 36)")
    p.add_argument("--wallets", type=int, default=240, help="trading wallets (default 240)")
    p.add_argument("--detail", action="store_true", help="each wallet of the population")
    p.add_argument(
        "--strong",
        action="store_true",
        help="in the positive control's market (skilled_many_strong's skill: 15 %% of every "
        "style skilled at 0.10-0.20, trading twice as often), where the top tiers are open",
    )
    p.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    asyncio.run(main_async(p.parse_args(argv)))


if __name__ == "__main__":
    main()
