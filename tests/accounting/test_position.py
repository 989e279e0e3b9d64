"""Hand-computed accounting cases: every number below was worked out on paper first."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from orderflow.accounting import (
    Fill,
    Position,
    SubgraphPosition,
    TakerTotals,
    decision_value,
    fill_from_trade,
    payouts_from_numerators,
    replay,
    resolved_pnl,
)


def buy(shares: str, usdc: str, fee: str = "0", fee_asset: str = "COLLATERAL") -> Fill:
    return Fill("BUY", D(shares), D(usdc), D(fee), fee_asset)  # type: ignore[arg-type]


def sell(shares: str, usdc: str, fee: str = "0", fee_asset: str = "COLLATERAL") -> Fill:
    return Fill("SELL", D(shares), D(usdc), D(fee), fee_asset)  # type: ignore[arg-type]


def test_buy_sets_shares_basis_and_average() -> None:
    p = Position()
    assert p.apply(buy("100", "40")) == 0
    assert (p.shares, p.cost_basis, p.avg_price) == (D(100), D(40), D("0.4"))
    p.apply(buy("100", "60"))  # 100 more at 0.60: average 0.50
    assert p.avg_price == D("0.5")


def test_partial_sell_realizes_against_average_cost() -> None:
    p = replay([buy("100", "40")])
    realized = p.apply(sell("40", "22"))  # 40 @ 0.55, basis relieved 40 * 0.40 = 16
    assert realized == D(6)
    assert (p.shares, p.cost_basis, p.avg_price) == (D(60), D(24), D("0.4"))
    assert p.mark(D("0.5")) == D(6)  # 60 * 0.5 - 24
    assert p.total_pnl(D("0.5")) == D(12)


def test_sell_at_a_loss() -> None:
    p = replay([buy("100", "60"), sell("50", "25")])
    assert p.realized_pnl == D(-5)
    assert p.cost_basis == D(30)


def test_resolution_win_and_loss() -> None:
    assert replay([buy("100", "40")], D(1)).realized_pnl == D(60)
    lost = replay([buy("100", "40")], D(0))
    assert lost.realized_pnl == D(-40)
    assert (lost.shares, lost.cost_basis, lost.is_open) == (D(0), D(0), False)


def test_fifty_fifty_payout() -> None:
    payouts = payouts_from_numerators([1, 1])
    assert payouts == [D("0.5"), D("0.5")]
    assert replay([buy("100", "40")], payouts[0]).realized_pnl == D(10)
    assert replay([buy("100", "70")], payouts[1]).realized_pnl == D(-20)


def test_neg_risk_event_settles_each_condition() -> None:
    # A neg-risk event is one binary condition per candidate. A wallet holds YES of A at 0.30,
    # NO of B at 0.80 and YES of C at 0.20; A wins, so B's NO and C's NO pay 1.
    a_yes = replay([buy("100", "30")], payouts_from_numerators([1, 0])[0])
    b_no = replay([buy("50", "40")], payouts_from_numerators([0, 1])[1])
    c_yes = replay([buy("10", "2")], payouts_from_numerators([0, 1])[0])
    assert [a_yes.realized_pnl, b_no.realized_pnl, c_yes.realized_pnl] == [D(70), D(10), D(-2)]


def test_multi_outcome_condition_payouts() -> None:
    assert payouts_from_numerators([0, 0, 1]) == [D(0), D(0), D(1)]
    assert payouts_from_numerators([1, 3]) == [D("0.25"), D("0.75")]
    assert replay([buy("8", "1")], D("0.75")).realized_pnl == D(5)


def test_zero_payout_resolution_is_refused() -> None:
    with pytest.raises(ValueError, match="pays nothing"):
        payouts_from_numerators([0, 0])


def test_v1_share_fee_on_buy() -> None:
    # V1 BUY: 100 gross shares for 40 USDC, fee 2 shares -> holds 98 shares costing 40.
    p = replay([buy("100", "40", "2", "SHARES")])
    assert p.shares == D(98)
    assert p.cost_basis == D(40)
    assert p.fees_paid == D("0.8")  # 2 shares at 0.40
    assert p.settle(D(1)) == D(58)


def test_v2_collateral_fees_and_subgraph_difference() -> None:
    # V2: BUY 100 @ 0.40 pays 40 + 0.50 fee; SELL 100 @ 0.50 receives 50 - 0.25 fee.
    fills = [buy("100", "40", "0.5"), sell("100", "50", "0.25")]
    ours = replay(fills)
    ref = SubgraphPosition()
    for f in fills:
        ref.apply(f)
    assert ours.realized_pnl == D("9.25")
    assert ref.realized_pnl == D(10)  # the subgraph ignores fees
    assert ref.realized_pnl - ours.realized_pnl == ours.fees_paid == D("0.75")


def test_v1_sell_fee_in_collateral() -> None:
    p = replay([buy("10", "5"), sell("10", "7", "0.1")])
    assert p.realized_pnl == D("1.9")


def test_selling_untracked_shares_realizes_nothing_for_the_excess() -> None:
    p = replay([buy("10", "4"), sell("30", "15")])  # 20 shares came from outside the fills
    assert p.realized_pnl == D(1)  # 10 sold at 0.50 against a 0.40 average
    assert p.untracked_shares_sold == D(20)
    assert p.untracked_proceeds == D(10)
    assert p.shares == 0


def test_resolved_pnl_does_not_depend_on_fill_order() -> None:
    """Issue 11: sell 100 untracked at 0.60, then buy 100 at 0.50, YES wins (fees 0.75 + 0.72).

    The replay used to book +49.25 (the sell realized nothing, the 100 bought paid 100) while the
    set-based SQL booked +8.53; both now give the totals' answer in either order.
    """
    sell_first = [sell("100", "60", "0.72"), buy("100", "50", "0.75")]
    buy_first = list(reversed(sell_first))
    a = replay(sell_first, D(1))
    b = replay(buy_first, D(1))
    assert a.realized_pnl == b.realized_pnl == D("60") - D("0.72") - D("50.75") == D("8.53")
    assert a.untracked_shares_sold == b.untracked_shares_sold == 0
    assert resolved_pnl(D(100), D("50.75"), D(100), D("59.28"), D(1)) == D("8.53")


def test_taker_decisions_count_their_exits() -> None:
    """Buy at 0.40, sell at 0.60 before a NO resolution: +0.20 a share, not -0.40."""
    t = TakerTotals(
        bought=100, sold=100, received=60, taker_bought=100, taker_paid=40, taker_sold=100,
        taker_received=60, taker_fee=0,
    )  # fmt: skip
    value, stake = decision_value(t, 0.0)
    assert abs(value - 20.0) < 1e-12 and stake == 40.0
    held = TakerTotals(100, 0, 0, 100, 40, 0, 0, 1.0)
    assert decision_value(held, 1.0) == (59.0, 40.0)
    assert decision_value(held, 0.0) == (-41.0, 40.0)
    # A taker sell of shares never bought (a split's YES sold at 0.70) bets against the outcome.
    short = TakerTotals(0, 50, 35, 0, 0, 50, 35, 0)
    value, stake = decision_value(short, 0.0)
    assert abs(value - 35.0) < 1e-12 and abs(stake - 15.0) < 1e-12


def test_reopening_after_close_restarts_the_average() -> None:
    p = replay([buy("10", "4"), sell("10", "5"), buy("10", "8")])
    assert p.avg_price == D("0.8")
    assert p.realized_pnl == D(1)


def test_fill_from_stored_trade_row() -> None:
    row = {
        "side": "BUY",
        "size": D(5),
        "usdc_size": D("3.55"),
        "fee": D("0.03088"),
        "fee_asset": "COLLATERAL",
        "timestamp": None,
    }
    f = fill_from_trade(row)
    assert f.net_usdc == D("3.58088")
    assert f.price == D("0.71")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"side": "HOLD", "shares": D(1), "usdc": D(1)},
        {"side": "BUY", "shares": D(-1), "usdc": D(1)},
        {"side": "BUY", "shares": D(1), "usdc": D(1), "fee": D(2), "fee_asset": "SHARES"},
        {"side": "SELL", "shares": D(1), "usdc": D(1), "fee": D(2)},
        {"side": "BUY", "shares": D(1), "usdc": D(1), "fee_asset": "ETH"},
    ],
)
def test_bad_fills_are_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fill(**kwargs)  # type: ignore[arg-type]


def test_settle_rejects_payout_outside_zero_one() -> None:
    with pytest.raises(ValueError):
        Position().settle(D("1.5"))
