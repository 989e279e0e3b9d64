"""Score quality over time: one measurement per step, from the scores used at that step."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from orderflow.backtest.quality import QualityOverTime
from orderflow.signals.views import WalletView
from orderflow.sim import ScoredWallet, SimConfig, score_quality, simulate, truth_of
from orderflow.sim.quality import auc, is_wash


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


def test_auc_counts_pairs_and_ties_with_its_standard_error() -> None:
    perfect = auc([3.0, 4.0, 5.0], [1.0, 2.0])
    assert perfect is not None and perfect[0] == 1.0
    assert auc([1.0, 2.0], [3.0, 4.0, 5.0]) == (0.0, 0.0)
    tied = auc([1.0, 1.0], [1.0, 1.0])
    assert tied is not None and tied[0] == 0.5
    half = auc([1.0, 4.0], [2.0, 3.0])  # pairs won: (4>2, 4>3) of four
    assert half is not None and half[0] == 0.5 and half[1] > 0
    assert auc([], [1.0]) is None


def test_score_quality_reports_auc_and_market_makers_in_the_top_tiers() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=3, days=2.0)))
    skilled = [w for w in truth.wallets if w.truly_skilled]
    makers = [w for w in truth.wallets if w.style == "market_maker" and not w.truly_skilled]
    wash = [w for w in truth.wallets if is_wash(w) and not w.truly_skilled]
    others = [w for w in truth.wallets if w not in skilled + makers + wash]
    assert makers and skilled and others and wash
    # Skilled wallets score 9, unskilled market makers 8 and wash wallets 7 (both in the top
    # tiers), everyone else 1.
    scored = [ScoredWallet(w.address, 9.0, "SMART") for w in skilled]
    scored += [ScoredWallet(w.address, 8.0, "WHALE") for w in makers]
    scored += [ScoredWallet(w.address, 7.0, "SMART") for w in wash]
    scored += [ScoredWallet(w.address, 1.0, "NOVICE") for w in others]
    q = score_quality(scored, truth)
    assert q.auc == 1.0 and q.auc_se is not None
    top = skilled + makers + wash  # a skilled market maker is still a market maker
    assert q.top_tier_market_makers == sum(w.style == "market_maker" for w in top)
    assert q.top_tier_wash == sum(is_wash(w) for w in top)
    assert q.top_tier_market_makers >= len(makers) and q.top_tier_wash >= len(wash)
    assert q.top_tier_wallets == len(makers) + len(skilled) + len(wash)
    assert q.top_tier_truly_skilled == len(skilled)


def test_wash_wallets_are_known_by_their_ring_or_style() -> None:
    @dataclass
    class W:
        style: str
        wash_ring: int | None = None

    assert is_wash(W("wash")) and is_wash(W("retail", wash_ring=2))
    assert not is_wash(W("retail")) and not is_wash(W("market_maker"))
