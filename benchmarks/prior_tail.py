"""Benchmark: who reaches the top tiers under one normal prior and with the skill tail?

    .venv/bin/python benchmarks/prior_tail.py            # 5 draws of each population
    .venv/bin/python benchmarks/prior_tail.py --draws 20

Synthetic measured edges (numpy only, no database): a crowd whose true edges are N(-0.08, 0.01)
(takers paying the spread and the fees) and a share of skilled wallets at a fixed true edge, each
measured with a standard error drawn uniformly from a range (long records: 0.03-0.10; a month or
two: 0.08-0.20). For each population, in the same run: the prior fitted as one normal (the
baseline) and with the skill tail (``orderflow.reputation.prior.skill_tail``), each wallet's
P(edge > 0.002), and the top tiers as the run takes them (the Bayesian false-discovery cut at
0.05 and P >= 0.90). Printed: wallets in the top tiers and truly skilled among them, summed
over the draws, and how often the tail was kept. The last two populations are measured with
Student's t noise of 4 degrees of freedom (scaled by their standard errors): noise heavier than
the standard errors say, which neither prior is built for -- they show what it costs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orderflow.reputation.prior import Prior, population_prior, posterior, skill_tail
from orderflow.reputation.tiers import bayes_fdr

COST, FLOOR, FDR, P_TOP = 0.002, 0.005, 0.05, 0.90

# (wallets, skilled share, skilled edge, se range, noise: normal, or Student's t with 4 degrees
# of freedom -- heavier tails than the standard errors say, as outcomes that move together give)
POPULATIONS = (
    (1000, 0.03, 0.10, (0.03, 0.10), "normal"),
    (5000, 0.01, 0.10, (0.03, 0.10), "normal"),
    (1000, 0.10, 0.05, (0.03, 0.10), "normal"),
    (1000, 0.03, 0.10, (0.08, 0.20), "normal"),
    (1000, 0.00, 0.00, (0.03, 0.10), "normal"),
    (1000, 0.00, 0.00, (0.08, 0.20), "normal"),
    (20000, 0.00, 0.00, (0.03, 0.10), "t4"),
    (20000, 0.01, 0.10, (0.03, 0.10), "t4"),
    (2000, 0.03, 0.10, (0.03, 0.10), "shots"),
    (2000, 0.00, 0.00, (0.03, 0.10), "shots"),
)
# "shots": as "normal", plus as many one-to-three-bet buyers of long shots (0.03-0.10, no skill:
# they pay the crowd's -0.08 a dollar) -- real Polymarket's many small wallets. Their measured
# edge is the binomial outcome, not a normal draw; they inform the prior and are never in the
# top tiers themselves (the run's min_events_smart).
SHOTS = 1.0


def top_tiers(m: np.ndarray, se: np.ndarray, prior: Prior, eligible: np.ndarray) -> np.ndarray:
    p = posterior(m, se, prior, COST).p_above
    return np.asarray(bayes_fdr(p, eligible, FDR) & (p >= P_TOP))


def long_shots(rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(measured edge, standard error) of ``k`` wallets with one to three bets of a dollar each
    at 0.03-0.10, winning with 0.92 times the price's probability."""
    n = rng.integers(1, 4, k)
    q = rng.uniform(0.03, 0.10, k)
    wins = rng.binomial(n, 0.92 * q)
    m = (wins * (1 - q) / q - (n - wins)) / n
    return m, np.sqrt((1 - q) / q / n)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--draws", type=int, default=5, help="draws of each population (default 5)")
    p.add_argument("--seed", type=int, default=1, help="first random seed (default 1)")
    args = p.parse_args(argv)
    print(f"prior tail: {args.draws} draws of each population, seeds from {args.seed}")
    print(
        "wallets  skilled at              se range     skilled  one normal: top (skilled)  "
        "with tail: top (skilled)  tail kept  bulk tau"
    )
    for n, share, edge, (lo, hi), noise in POPULATIONS:
        skilled = normal_top = normal_true = tail_top = tail_true = kept = 0
        taus: list[float] = []
        for draw in range(args.draws):
            rng = np.random.default_rng(args.seed + draw)
            sk = rng.random(n) < share
            theta = np.where(sk, edge, rng.normal(-0.08, 0.01, n))
            se = rng.uniform(lo, hi, n)
            draws = rng.standard_t(4, n) if noise == "t4" else rng.normal(0.0, 1.0, n)
            m = theta + draws * se
            eligible = np.ones(n, dtype=bool)
            if noise == "shots":
                k = int(SHOTS * n)
                shot_m, shot_se = long_shots(rng, k)
                m, se = np.concatenate([m, shot_m]), np.concatenate([se, shot_se])
                sk, eligible = np.concatenate([sk, np.zeros(k, bool)]), np.arange(n + k) < n
            everyone = np.ones(m.size, dtype=bool)
            mu, tau, mu_se = population_prior(m, se, everyone, FLOOR)
            bulk = Prior(mu, tau, mu_se, FLOOR)
            # the tail over the near-normal records only, as the run fits it
            fitted = skill_tail(m, se, eligible, bulk, FLOOR)
            one, two = top_tiers(m, se, bulk, eligible), top_tiers(m, se, fitted, eligible)
            taus.append(tau)
            skilled += int(sk.sum())
            normal_top, normal_true = (
                normal_top + int(one.sum()),
                normal_true + int((one & sk).sum()),
            )
            tail_top, tail_true = tail_top + int(two.sum()), tail_true + int((two & sk).sum())
            kept += fitted.skill_share > 0
        label = (f"{share:.0%} at {edge:+.2f}" if share else "nobody") + (
            {"t4": ", t4 noise", "shots": ", + long shots"}.get(noise, "")
        )
        print(
            f"{n:7d}  {label:<26}  {lo:.2f}-{hi:.2f}  {skilled:8d}  "
            f"{normal_top:11d} ({normal_true})  {tail_top:15d} ({tail_true})  "
            f"{kept}/{args.draws}  {min(taus):.3f}-{max(taus):.3f}"
        )


if __name__ == "__main__":
    main()
