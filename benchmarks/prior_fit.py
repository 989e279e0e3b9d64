"""Benchmark: the skill tail's fit (``orderflow.reputation.mixture.fit``) against plain EM.

    .venv/bin/python benchmarks/prior_fit.py                      # 100,000 and 1,000,000 wallets
    .venv/bin/python benchmarks/prior_fit.py --wallets 200000 --seeds 3

Synthetic measured edges (numpy only): a crowd at N(-0.02, 0.01^2) with standard errors drawn
from 0.02-0.2, and either no skill or 3 % of wallets at N(+0.05, 0.02^2). For each population,
in the same run and from the same start (``prior.tail_start``, as ``skill_tail`` starts):

* plain EM, stopped when the log-likelihood's relative change is below 1e-12 or after 1,000
  steps (the fit before SQUAREM and Newton);
* ``mixture.fit``: SQUAREM-accelerated EM, then Newton's method, given up below one wallet's
  share (as ``skill_tail`` calls it).

Printed: passes over the wallets (E-steps), seconds, and how far each result is from the
maximum, as the largest move of one more EM step (in each parameter's own scale: a maximum
moves by nothing), or that the fit gave the tail up (its share fell below one wallet's: the
maximum is then the one normal's, and ``skill_tail`` refuses the tail as it would anyway).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orderflow.reputation import mixture
from orderflow.reputation.prior import Prior, population_prior, tail_start

FLOOR = 0.005
Array = np.ndarray


def crowd(k: int, seed: int, skilled: float) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    se = rng.uniform(0.02, 0.2, k)
    edge = rng.normal(-0.02, 0.01, k)
    few = rng.random(k) < skilled
    edge[few] = rng.normal(0.05, 0.02, int(few.sum()))
    return edge + rng.normal(0.0, 1.0, k) * se, se


def plain_em(x: Array, v: Array, p: mixture.Mixture) -> tuple[mixture.Mixture, int]:
    """EM as the fit was before: steps until the relative change of the log-likelihood is
    below 1e-12, at most 1,000."""
    last, steps = -math.inf, 0
    for _ in range(1000):
        ll, _, nxt = mixture._em_step(x, v, p, FLOOR**2)
        steps += 1
        if abs(ll - last) <= 1e-12 * (1.0 + abs(ll)):
            break
        last, p = ll, nxt
    return p, steps


def off_maximum(x: Array, v: Array, p: mixture.Mixture) -> float:
    """The largest move of one more EM step, in each parameter's scale."""
    _, _, q = mixture._em_step(x, v, p, FLOOR**2)
    scale = (p.share, math.sqrt(p.tau2_b), p.tau2_b, math.sqrt(p.tau2_s), p.tau2_s)
    pairs = zip(
        (q.share, q.mu_b, q.tau2_b, q.mu_s, q.tau2_s),
        (p.share, p.mu_b, p.tau2_b, p.mu_s, p.tau2_s),
        scale,
        strict=True,
    )
    return max(abs(a - b) / s for a, b, s in pairs)


def main(argv: list[str] | None = None) -> int:
    gone = "no tail (share < 1/k)"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wallets", default="100000,1000000", help="comma-separated sizes")
    ap.add_argument("--seeds", type=int, default=2, help="draws of each population (2)")
    args = ap.parse_args(argv)
    print(
        "| wallets | skilled | seed | EM passes | EM s | EM off max | fit passes | fit s "
        "| fit off max | share EM / fit | time ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for k in (int(w) for w in args.wallets.split(",")):
        for skilled in (0.0, 0.03):
            for seed in range(args.seeds):
                m, se = crowd(k, seed, skilled)
                mu, tau, mu_se = population_prior(m, se, np.ones(k, dtype=bool), FLOOR)
                order = np.lexsort((se, m))
                x, v = m[order], se[order] ** 2
                start = tail_start(x, v, Prior(mu, tau, mu_se, 0.0), FLOOR**2)
                if start is None:
                    continue
                t0 = time.perf_counter()
                em, em_steps = plain_em(x, v, start)
                t1 = time.perf_counter()
                found = mixture.fit(x, v, start, FLOOR**2, least_share=1.0 / k)
                t2 = time.perf_counter()

                def off(p: mixture.Mixture, x: Array = x, v: Array = v) -> str:
                    return f"{off_maximum(x, v, p):.1e}"

                print(
                    f"| {k:,} | {skilled:.0%} | {seed} | {em_steps} | {t1 - t0:.2f} "
                    f"| {off(em)} | {found.e_steps} | {t2 - t1:.2f} "
                    f"| {gone if found.mixture.share < 1.0 / k else off(found.mixture)} "
                    f"| {em.share:.5f} / {found.mixture.share:.5f} | x{(t1 - t0) / (t2 - t1):.1f} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
