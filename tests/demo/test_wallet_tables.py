"""The wallet tables' edge columns: the posterior, and the record's own measured edge beside it.

In the default demo every wallet's posterior is the population's mean (the prior's spread at its
floor) and a table of the posterior alone read as broken: each row now shows the measured edge
and its standard error the score keeps in its factors JSON, and a line under the table says what
the prior did.
"""

from __future__ import annotations

from decimal import Decimal

from orderflow.demo.wallet_tables import WALLET_HEAD, prior_line, wallet_rows
from orderflow.reputation import WalletScore
from orderflow.reputation.prior import Prior
from orderflow.sim import SimConfig, simulate, truth_of

TRUTH = truth_of(simulate(SimConfig.small(seed=3, days=1.0)))


def _score(address: str, measured: float | None, se: float | None) -> WalletScore:
    posterior: dict[str, float | None] = {"edge": -0.075, "sd": 0.031, "prior_sd": 0.005}
    if measured is not None:
        posterior |= {"measured": measured, "measured_se": se}
    return WalletScore(
        wallet_address=address,
        score=Decimal("4.48"),
        tier="AVERAGE",
        edge=-0.075,
        edge_raw=measured,
        edge_se=0.031,
        resolved_buys=9,
        resolved_positions=9,
        wins=7,
        losses=2,
        factors={"posterior": posterior},
    )


def test_top_wallets_show_the_measured_edge_beside_the_posterior() -> None:
    a, b = TRUTH.wallets[0].address, TRUTH.wallets[1].address
    rows = wallet_rows([_score(a, 0.393, 0.449), _score(b, None, None)], TRUTH)
    col = {name: i for i, name in enumerate(WALLET_HEAD)}
    assert [r[col["posterior edge"]] for r in rows] == ["-0.075", "-0.075"]
    assert rows[0][col["posterior sd"]] == "0.031"
    assert (rows[0][col["measured edge"]], rows[0][col["measured se"]]) == ("+0.393", "0.449")
    assert (rows[1][col["measured edge"]], rows[1][col["measured se"]]) == ("-", "-")
    assert rows[0][col["wins"]] == "7"


def test_the_line_under_the_table_says_what_the_prior_did() -> None:
    floor = 0.005
    at_floor = prior_line(Prior(-0.075, 0.005, 0.03, 0.0), floor)
    assert "-0.075 ± 0.005" in at_floor
    assert "every record shrinks to the population's mean" in at_floor
    assert "the data cannot tell these wallets apart yet" in at_floor
    spread = prior_line(Prior(-0.109, 0.034, 0.01, 0.0), floor)
    assert "cannot tell" not in spread and "shrunk toward it" in spread
    # a skill tail beside a bulk at its floor: records are not all pulled to the bulk's mean
    tail = prior_line(Prior(-0.09, 0.005, 0.01, 0.0, 0.05, 0.12, 0.005, 0.01), floor)
    assert "cannot tell" not in tail and "skill tail of 5.0% at +0.120" in tail
    assert "not estimated" in prior_line(None, floor)
