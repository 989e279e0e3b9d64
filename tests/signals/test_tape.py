"""A quote held to the tape price (:func:`orderflow.signals.tape.held_to_tape`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderflow.signals.tape import held_to_tape

D = Decimal


@pytest.mark.parametrize(
    ("quote", "tape", "held"),
    [
        (D("0.47"), D("0.50"), D("0.47")),  # an honest spread: left as it is
        (D("0.40"), D("0.50"), D("0.40")),  # 0.10 away: still the quote
        (D("0.39"), D("0.50"), D("0.50")),  # further: one pair's print, the tape
        (D("0.61"), D("0.50"), D("0.50")),
        (D("0.05"), D("0.08"), D("0.05")),  # near 0 the band is half-way to 0 (0.04)
        (D("0.01"), D("0.08"), D("0.08")),
        (D("0.99"), D("0.95"), D("0.95")),  # near 1, half-way to 1 (0.025)
        (D("0.97"), D("0.95"), D("0.97")),
        (None, D("0.50"), None),  # no level seen: no price, whatever the tape
        (D("0.30"), None, D("0.30")),  # no tape: the quote
    ],
)
def test_held_to_tape(quote: Decimal | None, tape: Decimal | None, held: Decimal | None) -> None:
    assert held_to_tape(quote, tape) == held
