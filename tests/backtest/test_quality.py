"""Score quality over time: one measurement per step, from the scores used at that step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orderflow.backtest.quality import QualityOverTime
from orderflow.signals.views import WalletView
from orderflow.sim import SimConfig, simulate, truth_of


def test_each_step_is_measured_with_its_own_scores() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=3, days=1.0)))
    rated = [w for w in truth.wallets if w.skill is not None]
    observer = QualityOverTime(truth)
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    # Step 1: nobody scored yet. Step 2: scores equal to skill (perfect). Step 3: reversed.
    observer(t0, {})
    observer(
        t0 + timedelta(days=1),
        {
            w.address: WalletView(
                w.address, 10 * (w.skill or 0), "WHALE" if w.truly_skilled else "AVERAGE"
            )
            for w in rated
        },
    )
    observer(
        t0 + timedelta(days=2),
        {w.address: WalletView(w.address, 10 * (1 - (w.skill or 0)), None) for w in rated},
    )
    first, perfect, reversed_ = (s.quality for s in observer.steps)
    assert first.wallets_scored == 0 and first.spearman is None
    assert perfect.spearman is not None and perfect.spearman > 0.99
    assert perfect.top_tier_precision == 1.0
    assert reversed_.spearman is not None and reversed_.spearman < -0.99
    assert "rho 1.00" in observer.summary() and "rho -1.00" in observer.summary()
