"""The demo's score-quality table names every trap its world holds, and only those."""

from __future__ import annotations

from orderflow.demo.sections import trap_rows
from orderflow.demo.store import FlaggedWallet
from orderflow.demo.text import flagged_lines
from orderflow.sim import ScoredWallet, SimConfig, score_quality, simulate, truth_of
from orderflow.sim.population import VARIANTS


def test_a_row_per_trap_held_and_the_partisans_in_degen() -> None:
    cfg = SimConfig.small(seed=3, days=2.0, population=VARIANTS["common_factor"])
    truth = truth_of(simulate(cfg))
    partisans = [w.address for w in truth.wallets if w.style == "partisan"]
    scores = [ScoredWallet(w.address, 5.0, "AVERAGE") for w in truth.wallets]
    scores[[s.address for s in scores].index(partisans[0])] = ScoredWallet(
        partisans[0], 1.0, "DEGEN"
    )
    rows = {row[0]: row[1] for row in trap_rows(score_quality(scores, truth))}
    assert rows["partisans in the top tiers"] == f"0 of {len(partisans)}"
    assert rows["partisans in DEGEN"] == f"1 of {len(partisans)}"
    assert "market makers in the top tiers" in rows and "penny pickers in the top tiers" in rows
    assert "complete-set arbitrageurs in the top tiers" not in rows  # none in this world


def test_a_wallet_with_three_flags_keeps_its_tier_apart() -> None:
    truth = truth_of(simulate(SimConfig.small(seed=3, days=1.0)))
    address = truth.wallets[0].address
    flagged = FlaggedWallet(
        address,
        ("MARKET_MAKER", "WASH", "PENNY_PICKER"),
        4.25,
        "AVERAGE",
        -0.094,
        0.1,
        0.2,
        0.7,
        12,
        None,
        0.66,
    )
    _title, columns, row = flagged_lines([flagged], truth)
    assert "MARKET_MAKER,WASH,PENNY_PICKER " in row and "PENNY_PICKERAVERAGE" not in row
    assert columns.index("tier") == row.index("AVERAGE")  # the column lines up
