"""A leader's fill with no shares or no collateral, and the exits that follow the leader out.

The chain emits such fills (an operator's fill of 0, a sale of a few base units whose proceeds
round down to 0: tests/chain/test_zero_fills.py); they are stored at price 0, which is no level
(``orderflow.signals.quotes.is_level``). Until 6 Dec 2026 the exits read them anyway: a leader's
"sale" of 0 shares sold our whole position after it, and a sale for no collateral, in a market
with no bid seen, priced our exit at it — clamped to one tick, 0.01 a share.
"""

from __future__ import annotations

from orderflow.signals import MarketView, Reason
from orderflow.signals.exits import HeldPosition, exit_decision, leaving
from tests.signals.decision_inputs import BOOK, MARKET, NOW, SETTINGS, TOKEN, WHALE, D, trade

HELD = HeldPosition(TOKEN, D(100), WHALE.address, "FOLLOW_WHALE")
QUOTED = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.70"))
UNQUOTED = MarketView(token_id=TOKEN, market_id=MARKET, last_price=None)


def test_a_leaders_sale_of_no_shares_is_no_exit() -> None:
    """Every exit is decided on ``leaving``'s reading of a leader's fill (the executor's
    ``_leaving_by_id`` and its tape, the backtest's engine and tape): none of a fill of no
    shares. Before, the sale of 0 shares was a leaving, its exit PENDING: 100 shares at 0.69."""
    nothing = trade(side="SELL", price=D(0), size=D(0), usdc_size=D(0))
    assert leaving(nothing) is None
    # nor a buy of no shares of the complement (read as a sale of this token at 1 - 0)
    free = trade(side="BUY", token_id=TOKEN + 1, complement=TOKEN, price=D(0), size=D(0))
    assert leaving(free) is None


def test_a_sale_for_no_collateral_does_not_price_the_exit() -> None:
    gift = trade(side="SELL", price=D(0), size=D("0.000003"), usdc_size=D(0))
    d = exit_decision(gift, HELD, UNQUOTED, BOOK, SETTINGS, NOW)
    assert d is not None
    assert (d.status, d.reason) == ("SKIPPED", Reason.NO_PRICE), (d.status, d.reason, d.price)
    # control: with a bid seen the exit goes at the market's price, as before
    quoted = exit_decision(gift, HELD, QUOTED, BOOK, SETTINGS, NOW)
    assert quoted is not None and quoted.accepted and quoted.price == D("0.69")
