"""The numpy parts of the score at their boundaries (no database): yardsticks, prior, posterior,
false-discovery control, flags, bands, settings. The issue's cases are in test_cases.py, built
through the import path; these only pin the formulas docs/reputation.md works through."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest

from orderflow.config import load
from orderflow.errors import ConfigError
from orderflow.reputation.factors import measurement, score
from orderflow.reputation.flags import FLAGS, flag_bits
from orderflow.reputation.prior import population_prior
from orderflow.reputation.settings import ReputationSettings
from orderflow.reputation.standing import yardsticks
from orderflow.reputation.tiers import TIERS, bayes_fdr, place_in_band
from orderflow.reputation.wallet_inputs import WalletInputs

S = ReputationSettings()


def inputs(n: int = 1, /, **kw: float) -> WalletInputs:
    base = {f.name: np.zeros(n) for f in fields(WalletInputs)}
    base["wash_deviation"] = np.full(n, np.nan)
    for k, v in kw.items():
        base[k] = np.full(n, float(v))
    if "resolution_days" not in kw:  # each event resolved on a day of its own
        base["resolution_days"] = base["events"]
    return WalletInputs(**base)


def with_(i: WalletInputs, **kw: float) -> WalletInputs:
    values = {f.name: getattr(i, f.name) for f in fields(i)}
    values.update({k: np.full(len(i.events), v) for k, v in kw.items()})
    return WalletInputs(**values)


def bettor(events: int, price: float, wins: int, usd: float = 100.0) -> WalletInputs:
    """``events`` buys of ``usd`` at ``price``, ``wins`` of them won; the closing line is the
    outcome (what the run uses when a token has no close of its own)."""
    shares = usd / price
    win, loss = shares * (1 - price), -usd
    value = wins * win + (events - wins) * loss
    return inputs(
        clv_value=value,
        clv_sq=wins * win**2 + (events - wins) * loss**2,
        clv_stake=value * usd,
        stake_sq=events * usd**2,
        clv_null_var=events * shares**2 * price * (1 - price),
        events=events,
        value=value,
        stake=events * usd,
        null_var=events * shares**2 * price * (1 - price),
        wins=wins,
        expected_wins=events * price,
        wins_var=events * price * (1 - price),
        gross_profit=wins * shares * (1 - price),
        gross_loss=(events - wins) * usd,
        null_loss=events * shares * price * (1 - price),
        volume=events * usd,
        taker_volume=events * usd,
        buy_volume=events * usd,
    )


def test_null_variance_gives_a_penny_picker_no_tiny_standard_error() -> None:
    # 30 buys at 0.97, all won: no loss yet, but the standard error is what a zero-edge bettor
    # at 0.97 would show, sqrt(30 x 0.97 x 0.03) / (30 x 0.97) per dollar of stake.
    outcome, se, clv, clv_se, rse = yardsticks(bettor(30, 0.97, 30), S)
    _, m_se = measurement(outcome, se, clv, clv_se, rse, 0.05)
    assert outcome[0] == pytest.approx(0.03 / 0.97)
    assert se[0] == pytest.approx(math.sqrt(0.03 / 0.97 / 30), rel=1e-9)
    assert outcome[0] / se[0] < 1.0  # one standard error: no evidence
    # without a closing line, its outcomes' tiny sample variance does not shrink that either
    assert m_se[0] >= se[0]


def test_closing_line_is_floored_and_needs_events() -> None:
    i = bettor(20, 0.5, 10)
    i = with_(i, clv_value=100.0, clv_sq=500.0, clv_stake=10_000.0, stake_sq=200_000.0)
    i = with_(i, clv_null_var=0.0)
    outcome, outcome_se, clv, clv_se, rse = yardsticks(i, S)
    assert rse[0] == outcome_se[0]  # every decision had a close
    assert clv[0] == pytest.approx(100 / 2000)
    assert clv_se[0] >= S.clv_se_floor * outcome_se[0]
    # closes that miss nothing (kappa = 0): the closing line is the measurement
    m, se = measurement(outcome, outcome_se, clv, clv_se, rse, 0.0)
    assert m[0] == clv[0] and se[0] == clv_se[0]
    # closes that miss a lot: the outcome's excess over the close counts (nearly) in full
    m, se = measurement(outcome, outcome_se, clv, clv_se, rse, 10.0)
    assert m[0] == pytest.approx(outcome[0], abs=1e-3) and se[0] > outcome_se[0]
    few = yardsticks(i, S.model_copy(update={"clv_min_events": 21}))
    assert math.isnan(few[3][0]) and math.isnan(few[2][0])
    m, se = measurement(*few, 0.05)  # no closing line: the outcome
    assert m[0] == outcome[0] and se[0] == outcome_se[0]


def test_population_prior_spread_and_cap() -> None:
    rng = np.random.default_rng(1)
    se = np.full(400, 0.1)
    truth = rng.normal(0.02, 0.05, 400)
    m = truth + rng.normal(0, 0.1, 400)
    mu, tau, _ = population_prior(m, se, np.ones(400, bool), 0.005)
    assert tau == pytest.approx(0.05, abs=0.015)
    assert mu == 0.0  # a positive population mean is capped at 0
    null = rng.normal(-0.01, 0.1, 400)
    mu, tau, _ = population_prior(null, se, np.ones(400, bool), 0.005)
    assert mu == pytest.approx(-0.01, abs=0.015) and tau < 0.03


def test_bayes_fdr_takes_the_largest_set_with_mean_error_below_alpha() -> None:
    p = np.array([0.99, 0.97, 0.90, 0.80, 0.999])
    chosen = bayes_fdr(p, np.ones(5, bool), 0.05)
    # sorted errors 0.001, 0.01, 0.03, 0.10, 0.20: running means 0.001, 0.0055, 0.0137, 0.035, 0.068
    assert chosen.tolist() == [True, True, True, False, True]
    assert not bayes_fdr(p, np.zeros(5, bool), 0.05).any()


def test_bayes_fdr_takes_equal_probabilities_together() -> None:
    """Wallets with the same probability are taken or left together: which of them would make
    the cut must not depend on where each sits in the arrays (an incremental run reads them in
    another order than a full one)."""
    p = np.array([0.99, 0.96, 0.96, 0.96])
    # running means of the errors 0.01, 0.04, 0.04, 0.04: 0.01, 0.025, 0.03, 0.0325 -- two of the
    # three equal ones would fit under 0.031, all three do not
    assert bayes_fdr(p, np.ones(4, bool), 0.031).tolist() == [True, False, False, False]
    assert bayes_fdr(p, np.ones(4, bool), 0.033).tolist() == [True, True, True, True]
    rng = np.random.default_rng(5)
    p = np.round(rng.uniform(0.9, 1.0, 500), 2)  # many equal values
    chosen = bayes_fdr(p, np.ones(500, bool), 0.03)
    assert 0 < chosen.sum() < 500
    for _ in range(5):
        order = rng.permutation(500)
        assert (bayes_fdr(p[order], np.ones(500, bool), 0.03) == chosen[order]).all()


def test_population_prior_does_not_depend_on_the_order() -> None:
    """The prior's sums are correctly rounded: the same bits for the same wallets in any order
    (numpy's pairwise sums move in the last bits when the values are permuted)."""
    rng = np.random.default_rng(3)
    m = rng.normal(-0.01, 0.2, 20_001)
    se = rng.uniform(0.01, 0.5, 20_001)
    use = rng.uniform(size=20_001) < 0.9
    reference = population_prior(m, se, use, 0.005)
    for _ in range(5):
        order = rng.permutation(m.size)
        assert population_prior(m[order], se[order], use[order], 0.005) == reference


def test_score_is_placed_in_the_tier_band() -> None:
    raw = np.array([0.0, 10.0, 5.0, 5.0, 10.0])
    tier = np.array([TIERS.index(t) for t in ("WHALE", "SMART", "AVERAGE", "DEGEN", "NOVICE")],
                    dtype=np.int8)  # fmt: skip
    assert place_in_band(raw, tier, S).tolist() == [7.0, 6.99, 4.25, 1.5, 5.49]


def test_flags() -> None:
    i = inputs(
        3,
        volume=1000,
        taker_volume=1000,
        buy_volume=1000,
        wash_share=0.0,
        wash_counterparty_share=0.0,
    )
    mm = inputs(volume=1000, taker_volume=300, buy_volume=500)
    penny = inputs(volume=1000, taker_volume=1000, buy_volume=1000, penny_volume=600)
    wash = inputs(volume=1000, taker_volume=1000, wash_share=0.8, wash_counterparty_share=0.9,
                  wash_fills=5, wash_round_trip=0.5)  # fmt: skip
    # a closed group whose wallet trades nothing back: a thin market's holder, not a ring
    held = with_(wash, wash_round_trip=0.1)
    thin = inputs(volume=1000, taker_volume=1000, wash_share=0.8, wash_counterparty_share=0.1,
                  wash_fills=5, wash_deviation=0.01)  # fmt: skip
    small = inputs(volume=50, taker_volume=0)
    assert flag_bits(i, S).tolist() == [0, 0, 0]
    assert flag_bits(mm, S)[0] == 1 << FLAGS.index("MARKET_MAKER")
    assert flag_bits(penny, S)[0] == 1 << FLAGS.index("PENNY_PICKER")
    assert flag_bits(wash, S)[0] == 1 << FLAGS.index("WASH")
    assert flag_bits(held, S)[0] == 0
    assert flag_bits(thin, S)[0] == 0  # one-sided concentration at market prices: a thin market
    assert flag_bits(small, S)[0] == 0


def test_flagged_wallets_are_never_top_and_wash_never_degen() -> None:
    strong = bettor(400, 0.5, 290)
    weak = bettor(400, 0.5, 120)
    both = WalletInputs(
        **{
            f.name: np.concatenate([getattr(strong, f.name)] * 3 + [getattr(weak, f.name)] * 3)
            for f in fields(WalletInputs)
        }
    )
    plain = score(both, S)
    assert plain.tier_names() == ["WHALE"] * 3 + ["DEGEN"] * 3
    assert (plain.score[:3] >= 7).all() and (plain.score[3:] <= 3).all()
    pair = np.array([0, 0, 0.9, 0, 0, 0.9])
    flagged = WalletInputs(**{**{f.name: getattr(both, f.name) for f in fields(both)},
                              "wash_share": pair, "wash_counterparty_share": pair,
                              "wash_fills": np.full(6, 10.0), "wash_round_trip": pair})  # fmt: skip
    out = score(flagged, S)
    assert out.tier_names() == ["WHALE", "WHALE", "AVERAGE", "DEGEN", "DEGEN", "AVERAGE"]
    assert out.flag_names()[2] == ["WASH"] and 3.0 < out.score[5] < 5.5


def test_one_even_money_win_is_no_evidence() -> None:
    """Wins are counted in whole events: the normal approximation of their tail needs half an
    event's continuity correction, or a single coin flip won reads as a one-sigma record."""
    one = score(bettor(1, 0.5, 1), S)
    assert one.win_z[0] == 0.0 and one.win_rate[0] == 0.5
    lost = score(bettor(1, 0.5, 0), S)
    assert lost.win_z[0] == 0.0
    many = score(bettor(40, 0.5, 30), S)
    assert many.win_z[0] == pytest.approx((30 - 20 - 0.5) / math.sqrt(10))
    few = score(bettor(40, 0.5, 12), S)
    assert few.win_z[0] == pytest.approx((12 - 20 + 0.5) / math.sqrt(10))


def test_a_profit_factor_over_few_events_is_weak_evidence() -> None:
    """The profit factor takes the win rate's evidence shrink, sqrt(n / (n + 20)): two long
    shots hit at 0.10 are a profit factor of 2.5 but no more evidence than two wins."""
    two = score(bettor(2, 0.1, 2), S)
    pf = float(two.profit_factor_shrunk[0])
    assert pf > 2
    shrink = math.sqrt(2 / 22)
    assert two.profit_factor[0] == pytest.approx(0.5 + 0.5 * shrink * math.log(pf) / math.log(1.5))
    assert two.profit_factor[0] < 0.9  # 1.0 (the clip) without the shrink
    long = score(bettor(400, 0.5, 220), S)  # a long record keeps nearly all of it
    pf = float(long.profit_factor_shrunk[0])
    assert long.profit_factor[0] == pytest.approx(
        0.5 + 0.5 * math.sqrt(400 / 420) * math.log(pf) / math.log(1.5)
    )


def test_a_wash_record_is_no_evidence_either_way() -> None:
    """A record made with the wallet's own ring (WASH, or WASH_COUNTERPARTY) says nothing of
    its skill: its five factors are 0.5, so a staged winning streak does not top its band (nor
    does a staged losing one sink in it)."""
    records = [bettor(60, 0.5, 45), bettor(60, 0.5, 18), bettor(60, 0.5, 33)]
    wallets = WalletInputs(
        **{
            f.name: np.concatenate([getattr(r, f.name) for r in records] * 2)
            for f in fields(WalletInputs)
        }
    )
    ring = np.array([0.9, 0.9, 0.9, 0, 0, 0])
    washed = WalletInputs(**{**{f.name: getattr(wallets, f.name) for f in fields(wallets)},
                             "wash_share": ring, "wash_counterparty_share": ring,
                             "wash_fills": np.full(6, 10.0), "wash_round_trip": ring})  # fmt: skip
    out = score(washed, S)
    assert out.flag_names()[:3] == [["WASH"]] * 3 and out.flag_names()[3:] == [[]] * 3
    for name in ("win_rate", "profit_factor", "consistency", "volume", "timing"):
        factor = getattr(out, name)
        assert factor[:3].tolist() == [0.5] * 3, name
    assert out.raw_score[:3].tolist() == [5.0] * 3
    assert out.tier_names()[:3] == ["AVERAGE"] * 3 and out.score[:3].tolist() == [4.25] * 3
    # the same records unflagged keep what they show
    assert out.raw_score[3] > 5.0 > out.raw_score[4]


def test_settings_reject_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        ReputationSettings(weight_volume=0.2)
    with pytest.raises(ValueError, match="evidence minimums"):
        ReputationSettings(min_events_smart=50)
    with pytest.raises(ValueError, match="smart_probability"):
        ReputationSettings(smart_probability=0.99)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPUTATION_WHALE_PROBABILITY", "0.99")
    monkeypatch.setenv("REPUTATION_MIN_RESOLVED_WHALE", "30")
    monkeypatch.setenv("CALCULATION_INTERVAL_SECONDS", "60")
    s = load(ReputationSettings)
    assert (s.whale_probability, s.min_events_whale, s.calculation_interval_secs) == (0.99, 30, 60)
    assert s.follower_cost == pytest.approx(0.002)  # strategy defaults: 20 bps slippage, no fee
    monkeypatch.setenv("REPUTATION_WHALE_PROBABILITY", "2")
    with pytest.raises(ConfigError):
        load(ReputationSettings)


# The figures of a wallet that depend on its own inputs alone (the rest depends on the prior).
OWN_FIGURES = (
    "outcome_edge", "outcome_se", "clv_edge", "clv_se", "resid_se", "win_z",
    "profit_factor_shrunk", "persistence_z", "maker_share", "penny_share", "win_rate",
    "profit_factor", "consistency", "timing", "volume_evidence",
)  # fmt: skip


def _random_inputs(rng: np.random.Generator, n: int) -> WalletInputs:
    events = rng.integers(0, 60, n).astype(np.float64)
    price = rng.uniform(0.03, 0.97, n)
    usd = rng.lognormal(4.0, 1.5, n)
    shares = usd / price
    wins = np.floor(events * np.clip(price + rng.normal(0.0, 0.1, n), 0.0, 1.0))
    value = wins * shares * (1 - price) - (events - wins) * usd
    null_var = events * shares**2 * price * (1 - price)
    miss = rng.normal(0.0, 0.05, n) * events * usd
    values = {
        "events": events,
        "resolution_days": np.floor(events * rng.uniform(0.2, 1.0, n)),
        # the clustered variances: below the independent events' for some, above for others
        "day_var": null_var * rng.uniform(0.5, 3.0, n),
        "resid_day_var": null_var * rng.uniform(0.0, 2.0, n),
        "wins_day_var": events * price * (1 - price) * rng.uniform(0.5, 3.0, n),
        "value": value,
        "stake": events * usd,
        "null_var": null_var,
        "clv_value": value - miss,
        "clv_sq": (value - miss) ** 2 / np.maximum(events, 1.0) + rng.uniform(0, 1e4, n),
        "clv_stake": (value - miss) * usd,
        "stake_sq": events * usd**2,
        "clv_null_var": null_var * rng.uniform(0.0, 0.5, n),
        "wins": wins,
        "expected_wins": events * price,
        "wins_var": events * price * (1 - price),
        "gross_profit": wins * shares * (1 - price),
        "gross_loss": (events - wins) * usd,
        "null_loss": events * shares * price * (1 - price),
        "value_early": value * rng.uniform(0.0, 1.0, n),
        "var_early": null_var * rng.uniform(0.1, 0.9, n),
        "value_late": value * rng.uniform(-0.5, 1.0, n),
        "var_late": null_var * rng.uniform(0.1, 0.9, n),
        "volume": events * usd * rng.uniform(1.0, 3.0, n),
        "taker_volume": events * usd,
        "buy_volume": events * usd,
        "penny_volume": events * usd * rng.uniform(0.0, 1.0, n),
        "wash_share": rng.uniform(0.0, 1.0, n),
        "wash_counterparty_share": rng.uniform(0.0, 1.0, n),
        "wash_deviation": rng.uniform(0.0, 0.3, n),
        "wash_fills": rng.integers(0, 40, n).astype(np.float64),
        "wash_off_share": rng.uniform(0.0, 0.5, n),
        "wash_off_fills": rng.integers(0, 20, n).astype(np.float64),
        "wash_host_share": rng.uniform(0.0, 1.0, n),
        "wash_host_own_share": rng.uniform(0.0, 1.0, n),
        "wash_host": np.full(n, np.nan),
        "hedged_volume": events * usd * rng.uniform(0.0, 1.0, n),
        # drawn last: the draws above keep their values; below 0 for some (the sum of an
        # unbiased estimate, floored at 0 in the yardstick)
        "close_move_var": null_var * rng.uniform(-0.2, 0.8, n),
        "wash_round_trip": rng.uniform(0.0, 1.0, n),
    }
    return WalletInputs(**values)


def test_own_figures_do_not_depend_on_the_wallets_position_or_population() -> None:
    """A wallet's own figures are the same bits wherever it sits in the arrays and whoever else
    is scored with it: an incremental run rewrites no row whose inputs did not change, relying on
    this (the row keeps the figures of the run that wrote it). numpy's vectorised loops take the
    arrays in SIMD blocks with a tail; a wallet moved across block boundaries and into the tail,
    among other populations, must not move by a bit."""
    rng = np.random.default_rng(11)
    base = _random_inputs(rng, 37)
    reference = score(base, S)
    for extra in (0, 1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 64, 129):
        others = _random_inputs(rng, extra)
        order = rng.permutation(37 + extra)
        merged = WalletInputs(
            **{
                f.name: np.concatenate([getattr(base, f.name), getattr(others, f.name)])[order]
                for f in fields(WalletInputs)
            }
        )
        at = np.argsort(order)[:37]  # where each base wallet went
        moved = score(merged, S)
        for name in OWN_FIGURES:
            a, b = getattr(reference, name), getattr(moved, name)[at]
            same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
            assert same.all(), (name, extra)
