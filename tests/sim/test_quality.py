"""Score-quality measures: Spearman with ties, top-tier precision and recall."""

from __future__ import annotations

import pytest

from orderflow.sim import ScoredWallet, SimConfig, score_quality, simulate, spearman, truth_of
from orderflow.sim.population import Population
from orderflow.sim.quality import ranks


def test_ranks_average_ties() -> None:
    assert ranks([10.0, 20.0, 20.0, 5.0]) == [2.0, 3.5, 3.5, 1.0]


def test_spearman_known_values() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert spearman([1, 2], [1, 2]) is None
    assert spearman([1, 1, 1], [1, 2, 3]) is None


def test_score_quality_counts_against_the_truth() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=9, days=1.0)))
    skilled = next(w for w in truth.wallets if w.truly_skilled)
    lucky = next(w for w in truth.wallets if w.style == "lucky" and not w.truly_skilled)
    maker = next(w for w in truth.wallets if w.style == "market_maker" and not w.truly_skilled)
    scores = [
        ScoredWallet(skilled.address, 9.0, "WHALE"),
        ScoredWallet(lucky.address, 8.0, "SMART"),
        ScoredWallet(maker.address, 7.5, "SMART"),
        ScoredWallet("0x" + "00" * 20, 9.9, "WHALE"),  # not in the truth: ignored
    ]
    q = score_quality(scores, truth)
    assert q.wallets_scored == 3
    assert (q.top_tier_wallets, q.top_tier_truly_skilled) == (3, 1)
    assert q.top_tier_precision == pytest.approx(1 / 3)
    assert (q.skilled_wallets, q.skilled_in_top_tier) == (1, 1)
    assert q.spearman is not None  # three wallets with a skill


def test_every_trap_is_counted_among_the_scored_and_in_the_top_tiers() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=9, days=1.0)))
    by_style: dict[str, list[str]] = {}
    for w in truth.wallets:
        if not w.truly_skilled:
            by_style.setdefault(w.style, []).append(w.address)
    penny, lucky = by_style["penny_picker"], by_style["lucky"]
    scores = [
        ScoredWallet(penny[0], 9.0, "WHALE"),
        ScoredWallet(penny[1], 5.0, "AVERAGE"),
        ScoredWallet(lucky[0], 8.0, "SMART"),
        ScoredWallet(lucky[1], 2.0, "DEGEN"),
        ScoredWallet(lucky[2], 4.0, "NOVICE"),
    ]
    q = score_quality(scores, truth)
    counts = {c.label: (c.top_tier, c.scored) for c in q.traps}
    assert counts["penny pickers"] == (1, 2) and counts["lucky wallets"] == (1, 3)
    assert counts["market makers"] == counts["partisans"] == (0, 0)
    assert (q.top_tier_penny_pickers, q.top_tier_lucky) == (1, 1)
    # only the traps this world's scored wallets hold are named
    assert q.traps_text() == "penny pickers 1 of 2, lucky wallets 1 of 3"


def test_copiers_late_buyers_lucky_whales_and_sybils_are_counted() -> None:
    """The styles the later populations added: copiers, late favourite buyers without skill and
    lucky whales are traps (``TRAPS``, ``top_tier_traps``), each with its count in WHALE/SMART;
    sybil wallets are counted apart, skilled or not (one operator's record in several wallets),
    and are no trap. Before, only precision under 1 could show any of them there."""
    pop = Population(
        shares={"copier": 0.1, "late_buyer": 0.1, "lucky_whale": 0.05}, sybil_groups=(1, 3)
    )
    truth = truth_of(simulate(SimConfig.small(seed=9, days=1.0, population=pop)))
    copier = next(w for w in truth.wallets if w.style == "copier")
    late = next(w for w in truth.wallets if w.style == "late_buyer" and not w.truly_skilled)
    whale = next(w for w in truth.wallets if w.style == "lucky_whale")
    sybils = [w for w in truth.wallets if w.sybil_group is not None]
    assert len(sybils) == 3 and all(w.truly_skilled == sybils[0].truly_skilled for w in sybils)
    tiers = ("WHALE", "SMART", "WHALE", "SMART", "AVERAGE", "DEGEN")
    picked = [copier, late, whale, *sybils]
    q = score_quality(
        [
            ScoredWallet(w.address, 9.0 - k, t)
            for k, (w, t) in enumerate(zip(picked, tiers, strict=True))
        ],
        truth,
    )
    assert (q.top_tier_copiers, q.top_tier_late_buyers, q.top_tier_lucky_whales) == (1, 1, 1)
    assert q.top_tier_sybils == 1  # the other two sybils are AVERAGE and DEGEN
    assert q.top_tier_traps == 3
    counts = {c.label: (c.top_tier, c.scored) for c in q.traps}
    assert counts["copiers"] == counts["late favourite buyers"] == counts["lucky whales"] == (1, 1)
