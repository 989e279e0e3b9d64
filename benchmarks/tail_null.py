"""Benchmark: how large the skill tail's likelihood gain gets where there is no tail.

    .venv/bin/python benchmarks/tail_null.py                # 155, 2,000 and 20,000 wallets
    .venv/bin/python benchmarks/tail_null.py --draws 0 0 200 20   # larger populations

Populations of measured edges drawn from one normal (a crowd N(-0.07, 0.03^2), each wallet
measured with a standard error uniform in 0.05-0.30 for 155 wallets -- a two-month world of
the simulator -- and 0.03-0.20 for 2,000 and 20,000), with normal noise and with Student's t
noise of 4 degrees of freedom (heavier tails than the standard errors say). For each draw, the
prior's own test (``orderflow.reputation.prior.shifted_tail``: the two-normal fit, its mean
above the bulk's by two standard errors, and its log-likelihood gain over one normal; 0 when no
shifted tail is found). Printed: the gain's 90th, 95th and 99th percentiles and largest value,
and how often it passes the default threshold (``TAIL_MIN_GAIN``) and the BIC's 1.5 ln k used
before. A false tail spares its luckiest wallets their shrinkage: this is the rate of that.
numpy only, no database.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orderflow.reputation.prior import (
    TAIL_MIN_GAIN,
    Prior,
    population_prior,
    shifted_tail,
)

FLOOR = 0.005
SIZES = (
    (155, (0.05, 0.30)),
    (2_000, (0.03, 0.20)),
    (20_000, (0.03, 0.20)),
    (200_000, (0.03, 0.20)),
)


def gain(m: np.ndarray, se: np.ndarray) -> float:
    use = np.ones(m.size, dtype=bool)
    mu, tau, mu_se = population_prior(m, se, use, FLOOR)
    found = shifted_tail(m, se, use, Prior(mu, tau, mu_se, FLOOR), FLOOR)
    return 0.0 if found is None else found[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--draws", type=int, nargs=4, default=[200, 100, 30, 0], help="draws per size")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print(
        f"| wallets | noise | draws | gain q90 | q95 | q99 | largest | > {TAIL_MIN_GAIN:g} "
        "| > 1.5 ln k |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for (k, (lo, hi)), draws in zip(SIZES, args.draws, strict=True):
        if not draws:
            continue
        se = rng.uniform(lo, hi, k)
        for noise in ("normal", "t4"):
            g = np.array([
                gain(rng.normal(-0.07, 0.03, k)
                     + (rng.standard_t(4, k) if noise == "t4" else rng.normal(0.0, 1.0, k)) * se,
                     se)
                for _ in range(draws)
            ])  # fmt: skip
            bic = 1.5 * math.log(k)
            q90, q95, q99 = np.quantile(g, [0.9, 0.95, 0.99])
            print(
                f"| {k:,} | {noise} | {draws} | {q90:.2f} | {q95:.2f} | {q99:.2f} | {g.max():.2f} "
                f"| {np.mean(g > TAIL_MIN_GAIN):.1%} | {np.mean(g > bic):.1%} ({bic:.1f}) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
