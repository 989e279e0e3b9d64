"""Each factor at its boundaries, the evidence caps, the tiers and the luck cases (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orderflow.config import load
from orderflow.errors import ConfigError
from orderflow.reputation.factors import (
    TIERS,
    WalletInputs,
    apply_evidence_caps,
    assign_tiers,
    score,
    shrunk_edge,
    shrunk_profit_factor,
    shrunk_sharpe,
    wilson_lower,
)
from orderflow.reputation.settings import ReputationSettings

S = ReputationSettings()


def a(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)


def wallet(
    wins: int = 0,
    losses: int = 0,
    *,
    gross_profit: float = 0.0,
    gross_loss: float = 0.0,
    return_mean: float = math.nan,
    return_sd: float = math.nan,
    volume: float = 0.0,
    edge_mean: float = math.nan,
    edge_sd: float = math.nan,
    edge_n: int | None = None,
) -> WalletInputs:
    n = wins + losses
    return WalletInputs(
        wins=a(wins),
        losses=a(losses),
        resolved=a(n),
        gross_profit=a(gross_profit),
        gross_loss=a(gross_loss),
        return_n=a(n),
        return_mean=a(return_mean),
        return_sd=a(return_sd),
        volume_usdc=a(volume),
        edge_n=a(n if edge_n is None else edge_n),
        edge_mean=a(edge_mean),
        edge_sd=a(edge_sd),
    )


# -- win rate ---------------------------------------------------------------------------------


def test_wilson_lower_bound_known_values() -> None:
    lb = wilson_lower(a(3, 140, 0), a(3, 200, 0), 1.96)
    assert lb[0] == pytest.approx(0.4385, abs=1e-4)
    assert lb[1] == pytest.approx(0.6328, abs=1e-3)
    assert lb[2] == 0.0


def test_win_rate_factor_boundaries() -> None:
    assert score(wallet(), S).win_rate[0] == 0.5  # nothing decided: neutral
    assert score(wallet(3, 0), S).win_rate[0] == 0.5  # bounds (0.44, 1) straddle 0.5
    assert score(wallet(1000, 0), S).win_rate[0] == 1.0  # lower bound far above the target
    assert score(wallet(0, 1000), S).win_rate[0] == 0.0  # upper bound far below the floor
    # 140/200: lower bound 0.633 -> 0.5 + 0.5 * (0.633 - 0.5) / (0.65 - 0.5)
    assert score(wallet(140, 60), S).win_rate[0] == pytest.approx(0.944, abs=2e-3)


# -- profit factor ----------------------------------------------------------------------------


def test_profit_factor_prior() -> None:
    # 3 wins of 10, no loss: m = 10, (30 + 100) / (0 + 100) = 1.3 instead of infinity.
    assert shrunk_profit_factor(a(30), a(0), a(3), 10)[0] == pytest.approx(1.3)
    assert shrunk_profit_factor(a(0), a(0), a(0), 10)[0] == 1.0
    assert math.isinf(shrunk_profit_factor(a(5), a(0), a(1), 0)[0])


def test_profit_factor_factor_boundaries() -> None:
    s = ReputationSettings(profit_factor_prior_positions=0)
    assert score(wallet(1, 1, gross_profit=10, gross_loss=10), s).profit_factor[0] == 0.5
    assert score(wallet(1, 1, gross_profit=25, gross_loss=10), s).profit_factor[0] == (
        pytest.approx(1.0)
    )
    assert score(wallet(1, 1, gross_profit=10, gross_loss=25), s).profit_factor[0] == (
        pytest.approx(0.0)
    )
    assert score(wallet(1, 0, gross_profit=10), s).profit_factor[0] == 1.0  # infinite pf
    assert score(wallet(), s).profit_factor[0] == 0.5


# -- consistency ------------------------------------------------------------------------------


def test_consistency_boundaries() -> None:
    assert shrunk_sharpe(a(math.nan), a(math.nan), a(0), 10, 1.0)[0] == 0.0
    s = ReputationSettings(consistency_prior_positions=0)
    # k = 0: plain Sharpe; mean 0.5, sd 1 -> 0.5 = target -> 1.
    assert score(wallet(5, 5, return_mean=0.5, return_sd=1.0), s).consistency[0] == 1.0
    assert score(wallet(5, 5, return_mean=-0.5, return_sd=1.0), s).consistency[0] == 0.0
    assert score(wallet(5, 5, return_mean=0.0, return_sd=1.0), s).consistency[0] == 0.5
    # 3 perfect wins: mean shrunk 1 * 3/13, sd pooled with 10 prior obs of 1 -> ~0.25 -> 0.75.
    three = score(wallet(3, 0, return_mean=1.0, return_sd=0.0), S).consistency[0]
    assert three == pytest.approx(0.5 + 0.5 * (3 / 13) / math.sqrt(10 / 12) / 0.5)


# -- volume -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "factor"),
    [(0, 0.0), (50, 0.0), (100, 0.0), (10_000, 0.5), (1_000_000, 1.0), (5e7, 1.0)],
)
def test_volume_boundaries(volume: float, factor: float) -> None:
    assert score(wallet(volume=volume), S).volume[0] == pytest.approx(factor)


# -- timing / edge ----------------------------------------------------------------------------


def test_edge_shrinkage_and_timing_boundaries() -> None:
    assert shrunk_edge(a(0.3), a(20), 20)[0] == pytest.approx(0.15)
    assert shrunk_edge(a(math.nan), a(0), 20)[0] == 0.0
    s = ReputationSettings(edge_prior_positions=0)
    assert score(wallet(5, 5, edge_mean=0.1), s).timing[0] == pytest.approx(1.0)
    assert score(wallet(5, 5, edge_mean=-0.1), s).timing[0] == pytest.approx(0.0)
    assert score(wallet(5, 5, edge_mean=0.0), s).timing[0] == 0.5
    assert score(wallet(), S).timing[0] == 0.5
    se = score(wallet(8, 8, edge_mean=0.1, edge_sd=0.4), S).edge_se[0]
    assert se == pytest.approx(0.1)  # 0.4 / sqrt(16)
    assert math.isnan(score(wallet(1, 0, edge_mean=0.1), S).edge_se[0])


# -- caps and tiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "resolved", "tier"),
    [
        (7.0, 20, "WHALE"),
        (6.99, 20, "SMART"),
        (5.5, 10, "SMART"),
        (5.49, 10, "AVERAGE"),
        (4.0, 5, "AVERAGE"),
        (4.0, 4, "NOVICE"),
        (3.99, 50, "NOVICE"),
        (3.01, 50, "NOVICE"),
        (3.0, 50, "DEGEN"),
        (0.0, 50, "DEGEN"),
        (10.0, 1000, "WHALE"),
    ],
)
def test_tier_boundaries(value: float, resolved: int, tier: str) -> None:
    assert TIERS[int(assign_tiers(a(value), a(resolved), S)[0])] == tier


def test_evidence_caps() -> None:
    final, cap = apply_evidence_caps(a(9.0, 9.0, 9.0, 1.0, 1.0), a(19, 9, 20, 9, 10), S)
    assert final.tolist() == [6.99, 5.49, 9.0, 3.01, 1.0]
    assert cap.tolist() == [1, 2, 0, 3, 0]


# -- luck -------------------------------------------------------------------------------------


def test_three_of_three_is_not_a_whale() -> None:
    lucky = wallet(
        3,
        0,
        gross_profit=30,
        return_mean=1.0,
        return_sd=0.0,
        volume=1e6,
        edge_mean=0.5,
        edge_sd=0.0,
    )
    result = score(lucky, S)
    assert result.tier_names() == ["NOVICE"]
    assert result.score[0] < S.smart_score
    # Without the evidence minimums the shrinkage alone still keeps it below WHALE.
    assert result.raw_score[0] < S.whale_score


def test_one_hundred_forty_of_two_hundred_can_be_a_whale() -> None:
    skilled = wallet(
        140,
        60,
        gross_profit=1400,
        gross_loss=600,
        return_mean=0.4,
        return_sd=0.92,
        volume=4000,
        edge_mean=0.2,
        edge_sd=0.45,
    )
    result = score(skilled, S)
    assert result.tier_names() == ["WHALE"]
    assert result.score[0] >= 7.0


def test_coin_flipper_is_average_and_reliable_loser_is_degen() -> None:
    flipper = wallet(
        100,
        100,
        gross_profit=1000,
        gross_loss=1000,
        return_mean=0.0,
        return_sd=1.0,
        volume=4000,
        edge_mean=0.0,
        edge_sd=0.5,
    )
    loser = wallet(
        60,
        140,
        gross_profit=600,
        gross_loss=1400,
        return_mean=-0.4,
        return_sd=0.9,
        volume=4000,
        edge_mean=-0.2,
        edge_sd=0.45,
    )
    assert score(flipper, S).tier_names() == ["AVERAGE"]
    assert score(loser, S).tier_names() == ["DEGEN"]


def test_no_evidence_is_never_faded() -> None:
    loser = wallet(0, 3, gross_loss=30, return_mean=-1.0, return_sd=0.0, edge_mean=-0.5)
    result = score(loser, S)
    assert result.tier_names() == ["NOVICE"]
    assert result.score[0] > S.degen_score


# -- settings ---------------------------------------------------------------------------------


def test_settings_reject_inconsistent_values() -> None:
    with pytest.raises(ConfigError, match="sum to 1"):
        load(ReputationSettings, weight_win_rate=0.5)
    with pytest.raises(ConfigError, match="tier thresholds"):
        load(ReputationSettings, degen_score=5.0)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALCULATION_INTERVAL_SECONDS", "60")
    monkeypatch.setenv("REPUTATION_WILSON_Z", "2.33")
    s = load(ReputationSettings)
    assert s.calculation_interval_secs == 60
    assert s.wilson_z == 2.33
