"""benchmarks/decayed_record.py: its patch of the WALLETS statement applies, and its two
readings of the weights do what docs/reputation.md says ("Evidence that decays, measured")."""

from __future__ import annotations

import numpy as np

from orderflow.reputation import evidence_sql, standing
from orderflow.reputation.settings import ReputationSettings
from tests.benchmark_module import load_benchmark
from tests.reputation.test_factors import bettor

FLAT = ReputationSettings(variance_by_day=False)


def test_the_statement_gains_every_decayed_sum() -> None:
    dr = load_benchmark("decayed_record")
    sql = dr.with_decayed_sums(evidence_sql.WALLETS)
    assert all(f" AS {c},\n" in sql and f" a.{c}," in sql for c in dr.columns())


def test_a_uniformly_old_record_widens_under_the_power_reading_only() -> None:
    """Every event weighted 0.25: the power reading keeps the record's edges and doubles their
    standard errors (precision times the weight); the relative reading reads it as it was."""
    dr = load_benchmark("decayed_record")
    i = bettor(30, 0.4, 15)
    c = 0.25
    w = {f"{f}_d60": c * getattr(i, f) for f in dr.TERMS}
    w |= {f"{f}_d60q": c * c * getattr(i, f) for f in dr.SQUARED}
    whole = standing.yardsticks(i, FLAT)
    power = standing.yardsticks(dr.decayed(i, w, "60", power=True), FLAT)
    relative = standing.yardsticks(dr.decayed(i, w, "60", power=False), FLAT)
    for k in (0, 2):  # the outcome's and the closing line's edges
        np.testing.assert_allclose(power[k], whole[k])
    for k in (1, 3, 4):  # their standard errors, and the excess's
        np.testing.assert_allclose(power[k], whole[k] / np.sqrt(c))
    for got, want in zip(relative, whole, strict=True):
        np.testing.assert_allclose(got, want)
