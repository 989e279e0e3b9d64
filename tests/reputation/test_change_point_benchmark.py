"""benchmarks/change_point.py: its patch of the WALLETS statement applies, its split statistic is
the one docs/reputation.md describes ("A change point in the record, measured"), and its
permutation p holds its level on records of one constant edge (the false-alarm rate the rule
is read at) while finding a sharp fall."""

from __future__ import annotations

import numpy as np

from orderflow.reputation import evidence_sql
from tests.benchmark_module import load_benchmark


def test_the_statement_gains_every_event_array() -> None:
    cp = load_benchmark("change_point")
    sql = cp.with_events(evidence_sql.WALLETS)
    assert all(f" AS cp_{n},\n" in sql and f" a.cp_{n}," in sql for n in cp.EVENT)


def test_split_z_is_the_early_edge_less_the_late_one_over_their_standard_error() -> None:
    cp = load_benchmark("change_point")
    y = np.array([3.0, 1.0, 2.0, -1.0, 0.0, -2.0])
    stake = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    m = y.sum() / stake.sum()
    want = []
    for k in (2, 3, 4):  # early segments of 2, 3 and 4 events (2 at least either side)
        e, la = slice(0, k), slice(k, None)
        se2 = sum(((y[h] - m * stake[h]) ** 2).sum() / stake[h].sum() ** 2 for h in (e, la))
        want.append((y[e].sum() / stake[e].sum() - y[la].sum() / stake[la].sum()) / se2**0.5)
    np.testing.assert_allclose(cp.split_z(y[None, :], stake[None, :], 2)[0], want)


def test_cusum_z_is_the_residuals_running_sum_over_its_standard_error() -> None:
    cp = load_benchmark("change_point")
    y = np.array([3.0, 1.0, 2.0, -1.0, 0.0, -2.0])
    stake = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 2.0])
    r = y - y.sum() / stake.sum() * stake
    v = (r * r).sum()
    want = []
    for k in (2, 3, 4):
        f = (r[:k] ** 2).sum() / v
        want.append(r[:k].sum() / (v * f * (1 - f)) ** 0.5)
    np.testing.assert_allclose(cp.cusum_z(y[None, :], stake[None, :], 2)[0], want)


def _record(rng: np.random.Generator, n: int, edge: list[float]) -> dict[str, np.ndarray]:
    """``n`` decisions of random stakes whose closing-line value per dollar is the decision's
    edge plus noise of sd 0.3 (the outcome left as the closing line)."""
    stake = rng.uniform(10.0, 200.0, n)
    vc = stake * (np.array(edge) + rng.normal(0.0, 0.3, n))
    return {"stake": stake, "vc": vc, "vo": vc}


def test_the_permutation_p_holds_its_level_on_a_constant_edge_and_finds_a_fall() -> None:
    """400 records of 20 events at one edge (0.3): p < 0.05 for at most 5 % of them and a
    binomial margin (<= 30 of 400); 100 records of 20 events at 0.6 then 0 (the fall at the
    middle, two noise sds: plain on a closing line that precise): p < 0.05 for 80 % at least."""
    cp = load_benchmark("change_point")
    rng = np.random.default_rng(7)
    steady = [
        cp.change_point(_record(rng, 20, [0.3] * 20), "clv", 3, 199, rng)[1] for _ in range(400)
    ]
    assert sum(p < 0.05 for p in steady) <= 30
    fall = [0.6] * 10 + [0.0] * 10
    faded = [cp.change_point(_record(rng, 20, fall), "clv", 3, 199, rng)[1] for _ in range(100)]
    assert sum(p < 0.05 for p in faded) >= 80
