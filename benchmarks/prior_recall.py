"""What-if: the top tiers of saved worlds under other priors, seed after seed.

    .venv/bin/python benchmarks/prior_populations.py dump --variant skilled_many_strong \
        --seed 1 --out /tmp/control-1.npz          # one dump per world (prior_populations.py)
    .venv/bin/python benchmarks/prior_recall.py /tmp/control-*.npz --variants main oracle
    .venv/bin/python benchmarks/prior_recall.py /tmp/legs-1.npz+/tmp/control-1.npz
    .venv/bin/python benchmarks/prior_recall.py --null 300:300 3000:100

Each dump (a world's stored inputs and truth after the real pipeline) is scored by the
population step's own code (``factors.score``) under each variant of the prior, one line per
(world, variant): the skill tail's log-likelihood gain, kappa, the truly skilled wallets in
WHALE/SMART of those scored, the other wallets there by style (every trap of
``sim.quality.TRAPS`` is a style), the prior, and the AUC of the score against the truth.
``A.npz+B.npz``: A's population appended to B's world (``prior_populations.py show --into``).
Variants:

* ``main``: the run's prior (the tail weighed by its gain, half of it at ``prior_tail_min_gain``,
  ``prior_tail_gain_scale`` the step's width: ``prior.skill_tail``);
* ``gain>G``: the tail kept whole above a threshold G, none below (the run's rule until 7 Dec
  2026 at G = 5); ``gain>G,tailsd=S``: its spread at
  least S after the fit; ``gain>G,tailsd=ci[D]``: its spread the widest whose log-likelihood
  (the fit's other parameters held) is within D (1.92) of the maximum, on a 0.001 grid;
* ``averaged``: no threshold -- the posterior is the two models' (one normal; the bulk with
  the tail) weighted by their likelihoods, with prior odds exp(-prior_tail_min_gain) against
  the tail; ``averaged:L``: prior odds exp(-L) (``averaged:0``: even odds);
* ``oracle``: the truth's two groups, each fitted by itself (the bulk: the unskilled wallets'
  one normal; the tail: the skilled ones', around their weighted mean; the share: theirs) --
  what a prior could do at best with these measurements;
* ``kappa=K``: the closing lines' miss spread held at K instead of its fit.

``--null WALLETS:DRAWS``: populations with nobody skilled (numpy only), the prior as the run
fits it and the top tiers as the run takes them: what a false tail costs. Every figure is this
file's tree's (``prior_populations`` puts its repository first on the path): to measure another
tree's prior, run a copy of both files in that tree.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from prior_populations import TOP, Array, append, inputs, load, subset

from orderflow.reputation import factors, mixture
from orderflow.reputation import prior as pr
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.tiers import bayes_fdr

FLOOR, COST = 0.005, 0.002  # prior_sd_floor, follower_cost (the settings' defaults)


def auc(score: Array, skilled: Array) -> float:
    """Mann-Whitney: P(a skilled wallet's score > an unskilled one's), ties half."""
    a, b = score[skilled], score[~skilled]
    if not a.size or not b.size:
        return math.nan
    ranks = np.argsort(np.argsort(np.concatenate([a, b]), kind="stable"), kind="stable") + 1.0
    allv = np.concatenate([a, b])
    for v in np.unique(allv):  # average ranks of ties
        same = allv == v
        ranks[same] = ranks[same].mean()
    return float((ranks[: a.size].sum() - a.size * (a.size + 1) / 2) / (a.size * b.size))


class Averaged:
    """The state of the ``averaged`` variant between estimate_prior and posterior."""

    bulk: pr.Prior
    tail: pr.Prior | None = None
    weight: float = 0.0  # P(the model with the tail | the data)
    gain: float = math.nan


@contextmanager
def variant(name: str, settings: ReputationSettings, skilled: Array) -> Iterator[dict[str, float]]:
    """Patch the population step for ``name``; yields a dict the fit fills (gain, kappa)."""
    info: dict[str, float] = {}
    post0: Callable[..., pr.Posterior] = pr.posterior  # factors' own name for it
    state = Averaged()

    def estimate(
        outcome: Array,
        outcome_se: Array,
        clv: Array,
        clv_se: Array,
        resid_se: Array,
        use: Any,
        floor: float,
        *,
        tail: Any = None,
        tail_min_gain: float = pr.TAIL_MIN_GAIN,
        tail_gain_scale: float = pr.TAIL_GAIN_SCALE,
    ) -> pr.Prior:
        closed = use & np.isfinite(clv) & (np.nan_to_num(resid_se) > 0)
        _, kappa, _ = pr.population_prior(outcome - clv, resid_se, closed, floor, centre=0.0)
        if name.startswith("kappa="):
            kappa = float(name.split("=")[1])
        m, se = factors.measurement(outcome, outcome_se, clv, clv_se, resid_se, kappa)
        mu, tau, mu_se = pr.population_prior(m, se, use, floor)
        bulk = pr.Prior(mu, tau, mu_se, kappa)
        info["kappa"] = kappa
        if name == "oracle":  # the truth's two groups, each fitted alone
            fit = use & tail & np.isfinite(m) & np.isfinite(se)
            info["gain"] = math.nan
            mb, tb, sb = pr.population_prior(m, se, fit & ~skilled, floor)
            few = fit & skilled
            if few.sum() < 3:
                return pr.Prior(mb, tb, sb, kappa)
            ts = 0.0  # the skilled wallets' spread around their own weighted mean: a fixed point
            for _ in range(50):
                w = 1.0 / (se[few] ** 2 + ts**2)
                ms = float(np.sum(w * m[few]) / np.sum(w))
                _, ts_next, ss = pr.population_prior(m, se, few, floor, centre=ms)
                if abs(ts_next - ts) < 1e-12:
                    break
                ts = ts_next
            share = float(np.mean(skilled[fit]))
            return pr.Prior(mb, tb, sb, kappa, share, ms, ts, ss)
        found = pr.shifted_tail(m, se, use & tail, bulk, floor)
        info["gain"] = math.nan if found is None else found[1]
        state.bulk, state.tail = bulk, None if found is None else found[0]
        if name.startswith("averaged"):
            g = -math.inf if found is None else found[1]
            odds = float(name.split(":")[1]) if ":" in name else tail_min_gain
            state.weight = 1.0 / (1.0 + math.exp(min(odds - g, 700.0)))
            info["weight"] = state.weight
            return bulk
        if name == "main":  # the run's own: the tail weighed by its gain
            if found is not None:
                info["weight"] = pr.gain_weight(found[1], tail_min_gain, tail_gain_scale)
            return pr.skill_tail(m, se, use, bulk, floor, tail_min_gain, tail_gain_scale, fit=tail)
        least = (
            float(name.split(">")[1].split(",")[0]) if name.startswith("gain>") else tail_min_gain
        )
        if found is None or found[1] <= least:
            return bulk
        if ",tailsd=ci" in name:  # the widest spread the likelihood allows (a drop of D)
            drop = float(name.split(",tailsd=ci")[1] or 1.92)
            ok = use & tail & np.isfinite(m) & np.isfinite(se) & (se > 0)
            x, v = m[ok], se[ok] ** 2
            f = found[0]
            mix = mixture.Mixture(f.skill_share, f.mean, f.sd**2, f.skill_mean, f.skill_sd**2)
            best = mixture._e_step(x, v, mix)[0]
            sd = f.skill_sd
            for t in np.arange(f.skill_sd, 0.3, 0.001):
                if mixture._e_step(x, v, replace(mix, tau2_s=float(t) ** 2))[0] < best - drop:
                    break
                sd = float(t)
            info["tailsd"] = sd
            return replace(f, skill_sd=sd)
        if ",tailsd=" in name:  # the tail's spread at least this
            least_sd = float(name.split(",tailsd=")[1])
            return replace(found[0], skill_sd=max(found[0].skill_sd, least_sd))
        return found[0]

    def posterior(m: Array, se: Array, prior: pr.Prior, cost: float) -> pr.Posterior:
        if not name.startswith("averaged") or state.tail is None:
            return post0(m, se, prior, cost)
        w = state.weight
        a, b = post0(m, se, state.bulk, cost), post0(m, se, state.tail, cost)
        mean = (1 - w) * a.mean + w * b.mean
        var = (1 - w) * a.sd**2 + w * b.sd**2 + w * (1 - w) * (b.mean - a.mean) ** 2
        return pr.Posterior(
            mean,
            np.sqrt(var),
            (1 - w) * a.p_above + w * b.p_above,
            (1 - w) * a.p_below + w * b.p_below,
        )

    with (
        patch.object(factors, "estimate_prior", estimate),
        patch.object(factors, "posterior", posterior),
    ):
        yield info


def world_of(path: str) -> dict[str, Array]:
    """A dump, or ``POPULATION+CONTROL``: the population's own wallets appended to the other
    dump's world (``prior_populations.py show --into``)."""
    if "+" not in path:
        return load(path)
    extra, base = (load(p) for p in path.split("+"))
    return append(base, subset(extra, extra["own"]))


def line(path: str, name: str, settings: ReputationSettings) -> str:
    world = world_of(path)
    i = inputs(world)
    skilled = world["skilled"].astype(bool)
    with variant(name, settings, skilled) as info:
        s = factors.score(i, settings)
    top = np.isin(s.tier, TOP)
    others = Counter(world["style"][top & ~skilled].tolist())
    scored = np.isfinite(s.score)
    w = f" weight {info['weight']:.2f}" if "weight" in info else ""
    return (
        f"{'+'.join(Path(p).stem for p in path.split('+')):28} {name:9}"
        f" gain {info['gain']:5.2f}{w} kappa {info['kappa']:.3f}"
        f" | skilled in top {int((top & skilled).sum())} of {int((skilled & scored).sum())}"
        f" | others in top {int((top & ~skilled).sum())} {dict(others) or ''}"
        f" | bulk {s.prior.mean:+.3f} sd {s.prior.sd:.3f}"
        + (
            f", tail {s.prior.skill_share:.2f} at {s.prior.skill_mean:+.3f}"
            f" sd {s.prior.skill_sd:.3f}"
            if s.prior.skill_share
            else ""
        )
        + f" | AUC {auc(s.score[scored], skilled[scored]):.3f}"
    )


def null(size: int, draws: int, spread: float) -> str:
    """Wallets in the top tiers of populations with nobody skilled: a crowd at N(-0.08,
    ``spread``^2) measured with standard errors from 0.03-0.20 (normal noise), the prior as
    the run fits it (``skill_tail`` with its defaults), the top tiers as the run takes them."""
    wallets = worlds = tails = 0
    for draw in range(draws):
        rng = np.random.default_rng(5000 + draw)
        se = rng.uniform(0.03, 0.20, size)
        m = rng.normal(-0.08, spread, size) + rng.normal(0.0, 1.0, size) * se
        use = np.ones(size, dtype=bool)
        mu, tau, mu_se = pr.population_prior(m, se, use, FLOOR)
        prior = pr.skill_tail(m, se, use, pr.Prior(mu, tau, mu_se, FLOOR), FLOOR)
        p = pr.posterior(m, se, prior, COST).p_above
        top = bayes_fdr(p, use, 0.05) & (p >= 0.90)
        wallets, worlds, tails = (
            wallets + int(top.sum()),
            worlds + int(top.any()),
            tails + (prior.skill_share > 0),
        )
    return (
        f"null {size} wallets, spread {spread}: {draws} draws, a tail kept in {tails},"
        f" {wallets} wallets in the top tiers in {worlds} draws"
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dumps", nargs="*")
    p.add_argument("--variants", nargs="+", default=["main", "averaged"])
    p.add_argument(
        "--null",
        nargs="+",
        default=[],
        metavar="WALLETS:DRAWS",
        help="also draw populations with nobody skilled (crowd spreads 0.01 and 0.03)",
    )
    args = p.parse_args(argv)
    for spec in args.null:
        size, draws = (int(x) for x in spec.split(":"))
        for spread in (0.01, 0.03):
            print(null(size, draws, spread), flush=True)
    settings = ReputationSettings()
    for path in args.dumps:
        for name in args.variants:
            print(line(path, name, settings), flush=True)


if __name__ == "__main__":
    main()
