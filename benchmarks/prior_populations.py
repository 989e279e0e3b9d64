"""Diagnostic: the population prior's fit with and without a simulated population's wallets.

    .venv/bin/python benchmarks/prior_populations.py dump --variant skilled_many_strong \
        --seed 1 --out /tmp/control-1.npz
    .venv/bin/python benchmarks/prior_populations.py dump --variant neg_risk_leg_traders \
        --strong --seed 1 --out /tmp/legs-1.npz
    .venv/bin/python benchmarks/prior_populations.py show /tmp/legs-1.npz
    .venv/bin/python benchmarks/prior_populations.py show /tmp/legs-1.npz --into /tmp/control-1.npz

``dump`` simulates a world (``score_extra_styles``'s populations, ``--strong``: in the positive
control's market; ``skilled_many_strong``: the control itself, 60 days and 70 markets by
default), runs the real pipeline (``score_variants.score_world``) and saves every wallet's stored
inputs (``orderflow_reputation_inputs``: what the population step reads) with its truth (style,
skill, truly skilled, the population's own wallets).

``show`` scores saved inputs with ``factors.score`` -- the population step's own code, so the
figures are the run's -- and prints, for each set of wallets: the prior's fit (the bulk's mean
and sd, the closing lines' miss spread kappa, the skill tail's weight, mean and sd), the skill
tail's log-likelihood gain over one normal (weighed around ``prior_tail_min_gain``; the fit from 32
starts as well, to tell a fit that failed from a tail the data do not ask for), the tiers, each
group's outcome edge against its closing line (the measurement is the closing line when kappa
sits at its floor), and the truly skilled wallets' measured edges and posteriors. Sets: every
wallet; every wallet but the population's; the population measured by its outcome alone (no
closing line). ``--into CONTROL``: the population's wallets appended to another world's (the
control's), the experiment "the same world plus these wallets" -- a population's own world is
another world, its share of wallets taken from the other styles.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from score_extra_styles import EXTRA, _population, members  # noqa: E402
from score_variants import score_world  # noqa: E402
from scratch_db import scratch_server  # noqa: E402

from orderflow import db  # noqa: E402
from orderflow.reputation import factors, mixture, standing  # noqa: E402
from orderflow.reputation import prior as pr  # noqa: E402
from orderflow.reputation.factors import Scores  # noqa: E402
from orderflow.reputation.settings import ReputationSettings  # noqa: E402
from orderflow.reputation.stored_inputs import INPUTS  # noqa: E402
from orderflow.reputation.tiers import TIERS  # noqa: E402
from orderflow.reputation.wallet_inputs import WalletInputs  # noqa: E402
from orderflow.sim import SimConfig  # noqa: E402
from orderflow.sim.population import VARIANTS  # noqa: E402

CONTROL = "skilled_many_strong"  # the positive control: no population of its own
TOP = (TIERS.index("WHALE"), TIERS.index("SMART"))
TRUTH = ("address", "style", "skill", "skilled", "own")
Array = npt.NDArray[Any]


async def dump(args: argparse.Namespace) -> None:
    columns = [c for c in WalletInputs.columns() if c != "wash_host"]
    sim = SimConfig(
        seed=args.seed,
        days=args.days,
        markets=args.markets,
        wallets=args.wallets,
        population=_population(args.variant, args.strong),
    )
    with tempfile.TemporaryDirectory(prefix="orderflow-prior-") as work:
        async with scratch_server(args.dsn) as scratch:
            pool = await db.create_pool(await scratch.fresh(), min_size=1, max_size=4)
            try:
                truth, _ = await score_world(pool, sim, Path(work))
                rows = await pool.fetch(
                    "SELECT w.wallet_address, h.idx AS host, w.idx, "
                    + ", ".join(f"coalesce(w.{c}::float8, 'NaN') AS {c}" for c in columns)
                    + f" FROM {INPUTS} w LEFT JOIN {INPUTS} h"
                    " ON h.wallet_address = w.wash_host_address ORDER BY w.idx"
                )
            finally:
                await pool.close()
    place = {int(r["idx"]): k for k, r in enumerate(rows)}
    host = [np.nan if r["host"] is None else place[int(r["host"])] for r in rows]
    tw = truth.wallet_map()
    kind = EXTRA.get(args.variant)
    own = set() if kind is None else {w.address for w in members(truth, kind)}
    addr = [r["wallet_address"] for r in rows]
    data: dict[str, Array] = dict(
        address=np.array(addr),
        style=np.array([tw[a].style if a in tw else "" for a in addr]),
        skill=np.array([tw[a].skill if a in tw else 0.0 for a in addr]),
        skilled=np.array([bool(tw[a].truly_skilled) if a in tw else False for a in addr]),
        own=np.array([a in own for a in addr]),
        wash_host=np.array(host, dtype=np.float64),
        **{c: np.array([r[c] for r in rows], dtype=np.float64) for c in columns},
    )
    np.savez(args.out, **data)  # type: ignore[arg-type]  # numpy stubs: allow_pickle
    print(f"{args.out}: {len(rows)} wallets, {len(own & set(addr))} of the population")


def load(path: str) -> dict[str, Array]:
    with np.load(path) as d:
        return {k: d[k] for k in d.files}


def subset(world: dict[str, Array], keep: Array) -> dict[str, Array]:
    """The wallets in ``keep`` (a wash host outside them: none)."""
    out = {k: v[keep] for k, v in world.items()}
    place = np.cumsum(keep) - 1
    host = out["wash_host"].copy()
    has = np.isfinite(host)
    at = host[has].astype(np.int64)
    host[has] = np.where(keep[at], place[at], np.nan)
    out["wash_host"] = host
    return out


def append(world: dict[str, Array], extra: dict[str, Array]) -> dict[str, Array]:
    """``extra``'s wallets after ``world``'s (their hosts moved with them)."""
    shifted = dict(extra, wash_host=extra["wash_host"] + len(world["address"]))
    return {k: np.concatenate([world[k], shifted[k]]) for k in world}


def inputs(world: dict[str, Array]) -> WalletInputs:
    return WalletInputs(**{c: world[c] for c in WalletInputs.columns()})


def tail_gains(i: WalletInputs, s: Scores, settings: ReputationSettings) -> str:
    """The skill tail's log-likelihood gain over one normal from the run's start, and the best
    of 32 starts (None: no tail shifted above the bulk to test)."""
    use = (s.flags == 0) & pr.near_normal(
        i.expected_wins, i.events, settings.prior_tail_min_expected
    )
    floor = settings.prior_sd_floor
    m, se = s.edge_raw, s.edge_raw_se
    bulk = pr.Prior(*pr.population_prior(m, se, s.flags == 0, floor), s.prior.miss_sd)
    found = pr.shifted_tail(m, se, use, bulk, floor)
    ok = use & np.isfinite(m) & np.isfinite(se)
    x, v = m[ok], se[ok] ** 2
    order = np.lexsort((v, x))
    x, v = x[order], v[order]
    one = mixture.one_normal_loglik(x, v, bulk.mean, bulk.sd**2, floor**2)
    best = max(
        mixture.fit(x, v, mixture.Mixture(share, bulk.mean, bulk.sd**2, mu_s, t2), floor**2).loglik
        for share in (0.05, 0.15, 0.3, 0.45)
        for mu_s in (0.0, 0.05, 0.1, 0.2)
        for t2 in (floor**2, 0.0025)
    )
    gain = "none" if found is None else f"{found[1]:.2f}"
    half, width = settings.prior_tail_min_gain, settings.prior_tail_gain_scale
    weight = "-" if found is None else f"{pr.gain_weight(found[1], half, width):.3f}"
    return (
        f"tail gain {gain} (weight {weight}: half at {half}, width {width}; "
        f"best of 32 starts {best - one:.2f})"
    )


def describe(
    label: str, world: dict[str, Array], settings: ReputationSettings, *, by_outcome: bool = False
) -> None:
    """The prior, the tiers and the skilled wallets' posteriors of ``world``; ``by_outcome``:
    the population's wallets measured by their outcome alone."""
    i = inputs(world)
    skilled, own = world["skilled"], world["own"]
    original: Callable[..., tuple[Array, ...]] = standing.yardsticks
    if by_outcome:

        def yardsticks(i: WalletInputs, s: ReputationSettings) -> tuple[Array, ...]:
            o, o_se, clv, clv_se, r_se = original(i, s)
            return o, o_se, np.where(own, np.nan, clv), np.where(own, np.nan, clv_se), r_se

        standing.yardsticks = yardsticks  # type: ignore[assignment]
    try:
        s = factors.score(i, settings)
        gains = tail_gains(i, s, settings)
    finally:
        standing.yardsticks = original  # type: ignore[assignment]
    p = s.prior
    print(
        f"{label}: {len(own)} wallets; bulk {p.mean:+.4f} sd {p.sd:.4f} (mean se {p.mean_se:.4f}),"
        f" kappa {p.miss_sd:.4f}; tail share {p.skill_share:.3f} mean {p.skill_mean:+.4f}"
        f" sd {p.skill_sd:.4f}; {gains}"
    )
    top = np.isin(s.tier, TOP)
    counts = np.bincount(s.tier.astype(np.intp), minlength=len(TIERS))
    print(
        "  tiers "
        + " ".join(f"{t} {c}" for t, c in zip(TIERS, counts.tolist(), strict=True))
        + f"; WHALE/SMART {int(top.sum())} (truly skilled {int((top & skilled).sum())},"
        f" the population's {int((top & own).sum())})"
    )
    closed = (s.flags == 0) & np.isfinite(s.clv_edge) & (np.nan_to_num(s.resid_se) > 0)
    excess = s.outcome_edge - s.clv_edge
    for name, group in (("the population", own), ("the others", ~own)):
        g = closed & group
        if g.any():
            z = excess[g] / s.resid_se[g]
            print(
                f"  {name}: {int(g.sum())} with a closing line; mean outcome edge"
                f" {np.mean(s.outcome_edge[g]):+.3f}, closing line {np.mean(s.clv_edge[g]):+.3f},"
                f" measured {np.mean(s.edge_raw[g]):+.3f}; outcome - close z mean"
                f" {np.mean(z):+.2f} sd {np.std(z):.2f}"
            )
    unflagged = skilled & (s.flags == 0) & np.isfinite(s.p_above_cost)
    order = np.argsort(-s.p_above_cost[unflagged], kind="stable")
    for k in np.flatnonzero(unflagged)[order][:8]:
        print(
            f"    skilled{' (population)' if own[k] else ''} {TIERS[s.tier[k]]:7} m"
            f" {s.edge_raw[k]:+.3f} ± {s.edge_raw_se[k]:.3f} posterior {s.edge[k]:+.3f}"
            f" ± {s.edge_se[k]:.3f} P(edge > cost) {s.p_above_cost[k]:.3f}"
        )


def show(args: argparse.Namespace) -> None:
    settings = ReputationSettings()
    world = load(args.path)
    if args.into:
        base = load(args.into)
        base["own"] = np.zeros_like(base["own"])
        describe("the other world", base, settings)
        world = append(base, subset(world, world["own"]))
        describe("with the population's wallets appended", world, settings)
    else:
        describe("every wallet", world, settings)
        describe("without the population", subset(world, ~world["own"]), settings)
    if world["own"].any():
        describe("the population measured by its outcome", world, settings, by_outcome=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="simulate, score and save a world's inputs and truth")
    d.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--strong", action="store_true", help="in the positive control's market")
    d.add_argument("--days", type=float, default=60.0)
    d.add_argument("--markets", type=int, default=70)
    d.add_argument("--wallets", type=int, default=240)
    d.add_argument("--dsn", help="an admin DSN (default: DATABASE_URL, else an embedded server)")
    d.add_argument("--out", required=True)
    s = sub.add_parser("show", help="the prior with and without the population")
    s.add_argument("path")
    s.add_argument("--into", help="another world's dump: the population appended to it")
    args = p.parse_args(argv)
    if args.cmd == "dump":
        asyncio.run(dump(args))
    else:
        show(args)


if __name__ == "__main__":
    main()
