"""The pure decision pipeline's sizing and risk limits: Kelly stakes, caps, the minimum order,
the cash left, the book's positions (no database)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from orderflow.signals import (
    MarketView,
    OpenPosition,
    Reason,
    SignalType,
    StrategyBook,
    WalletView,
    evaluate,
    kelly_fraction_of_bankroll,
    size_position,
)
from orderflow.signals.decide import Decision
from orderflow.signals.model import win_probability
from tests.signals.decision_inputs import (
    BOOK,
    MARKET,
    MARKET_VIEW,
    NOW,
    SETTINGS,
    TOKEN,
    WHALE,
    D,
    trade,
)


def test_near_certain_probabilities_do_not_bet_the_bankroll() -> None:
    sure = WalletView(WHALE.address, score=9.9, edge=50.0, edge_se=0.01)  # p would be > 1
    assert win_probability(SignalType.FOLLOW_WHALE, trade(price=D("0.02")), sure) == 0.98
    big = StrategyBook(bankroll=D(1_000_000))
    s = SETTINGS.model_copy(
        update={"bankroll_usd": 1e6, "max_position_usd": 1e6, "max_market_exposure_usd": 1e6,
                "kelly_fraction": 1.0}
    )  # fmt: skip
    cheap = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.02"))
    d = evaluate(trade(price=D("0.02")), sure, cheap, big, s, NOW)
    assert d is not None and d.accepted and d.sizing is not None
    assert d.sizing.kelly_f > D("0.9")  # full Kelly would stake ~97 % of the bankroll
    assert d.sizing.stake_usd == D("0.5") * D(1_000_000)  # capped at MAX_KELLY
    assert "max_kelly" in d.sizing.capped_by


def test_risk_limits_on_the_book() -> None:
    held = {TOKEN: OpenPosition(TOKEN, MARKET, D(100), D(50))}
    d = evaluate(trade(), WHALE, MARKET_VIEW, StrategyBook(D(10_000), held), SETTINGS, NOW)
    assert d is not None and d.reason is Reason.POSITION_EXISTS
    others = {i: OpenPosition(i, None, D(1), D(1)) for i in range(5)}
    d = evaluate(trade(), WHALE, MARKET_VIEW, StrategyBook(D(10_000), others), SETTINGS, NOW)
    assert d is not None and d.reason is Reason.MAX_OPEN_POSITIONS
    # One position per market: a position (or live order) in another outcome of the same
    # market refuses a second one (a YES and a NO of one market is a locked loss).
    other_outcome = {9: OpenPosition(9, MARKET, D(4000), D(1800))}
    d = evaluate(trade(), WHALE, MARKET_VIEW, StrategyBook(D(10_000), other_outcome), SETTINGS, NOW)
    assert d is not None and d.reason is Reason.POSITION_EXISTS
    # Market exposure cap below the minimum size: refused.
    tight = SETTINGS.model_copy(update={"max_market_exposure_usd": 1.0})
    d = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, tight, NOW)
    assert d is not None and d.reason is Reason.MARKET_EXPOSURE
    # A cap that leaves room: the stake is cut to it and says so.
    capped = SETTINGS.model_copy(update={"max_market_exposure_usd": 200.0})
    d = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, capped, NOW)
    assert d is not None and d.accepted
    assert d.inputs["sizing"]["capped_by"] == ["max_market_exposure_usd"]
    assert d.size_usdc is not None and d.size_usdc <= D(200)


def test_a_position_under_the_minimum_order_size_leaves_its_market_open() -> None:
    """Dust — 3 shares where the market's minimum is 5 (what is left of a partly filled entry;
    its exit is SKIPPED ``exit_below_min_size``) — cannot be sold and is held to resolution.
    It used to refuse every new entry in its market (``position_exists``), forever; it counts
    in the market's exposure at its cost and as an open position elsewhere, but is no position
    to hold a new entry back: the entry makes the position sellable again."""
    dust = OpenPosition(TOKEN, MARKET, D(3), D("1.50"))
    book = StrategyBook(D(10_000), {TOKEN: dust})
    d = evaluate(trade(), WHALE, MARKET_VIEW, book, SETTINGS, NOW)
    assert d is not None and d.accepted, d and d.reason
    assert d.inputs["book"]["market_exposure"] == "1.50"
    # In another outcome of the market too (a locked loss of at most 3 shares' spread).
    no_dust = StrategyBook(D(10_000), {9: replace(dust, token_id=9)})
    d = evaluate(trade(), WHALE, MARKET_VIEW, no_dust, SETTINGS, NOW)
    assert d is not None and d.accepted, d and d.reason
    # The market's own minimum decides what is dust: 3 shares are a position where it is 2.
    low = replace(MARKET_VIEW, min_order_size=D(2))
    d = evaluate(trade(), WHALE, low, book, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.POSITION_EXISTS
    # The dust's market is open already: entering it adds no market to max_open_positions ...
    one = SETTINGS.model_copy(update={"max_open_positions": 1})
    d = evaluate(trade(), WHALE, MARKET_VIEW, book, one, NOW)
    assert d is not None and d.accepted, d and d.reason
    # ... while dust elsewhere is an open position like any other.
    elsewhere = StrategyBook(D(10_000), {7: OpenPosition(7, "0x" + "cd" * 32, D(3), D(1))})
    d = evaluate(trade(), WHALE, MARKET_VIEW, elsewhere, one, NOW)
    assert d is not None and d.reason is Reason.MAX_OPEN_POSITIONS
    # Its cost counts in the market's exposure cap: the stake is cut to what the cap leaves.
    capped = SETTINGS.model_copy(update={"max_market_exposure_usd": 10.0})
    d = evaluate(trade(), WHALE, MARKET_VIEW, book, capped, NOW)
    assert d is not None and d.accepted
    assert d.inputs["sizing"]["capped_by"] == ["max_market_exposure_usd"]
    assert d.inputs["sizing"]["stake_usd"] == "8.50"


def test_per_trade_cap_and_min_size_and_no_edge() -> None:
    rich = StrategyBook(bankroll=D(1_000_000))
    s = SETTINGS.model_copy(update={"bankroll_usd": 1_000_000.0})
    d = evaluate(trade(), WHALE, MARKET_VIEW, rich, s, NOW)
    assert d is not None and d.accepted and d.inputs["sizing"]["capped_by"] == ["max_position_usd"]
    assert d.size_usdc is not None and d.size_usdc <= D(1000)
    tiny = StrategyBook(bankroll=D(20))
    d = evaluate(
        trade(),
        WHALE,
        MARKET_VIEW,
        tiny,
        SETTINGS.model_copy(update={"bankroll_usd": 20.0, "max_position_usd": 20.0}),
        NOW,
    )
    assert d is not None and d.reason is Reason.BELOW_MIN_SIZE
    weak = WalletView(WHALE.address, score=9.0, edge=0.01, edge_se=0.0001)
    d = evaluate(trade(), weak, MARKET_VIEW, BOOK, SETTINGS, NOW)  # p = 0.505 < q = 0.51
    assert d is not None and d.reason is Reason.NO_EDGE


def test_the_stake_never_exceeds_the_cash_left() -> None:
    """Kelly stakes a fraction of the configured bankroll; what the strategy has already spent
    or lost (``StrategyBook.cash``) bounds it: less cash, a smaller stake; too little for the
    minimum order, no order (``bankroll_spent``)."""
    full = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert full is not None and full.accepted and full.size_usdc is not None
    assert full.size_usdc > D(100)
    d = evaluate(trade(), WHALE, MARKET_VIEW, replace(BOOK, cash=D(100)), SETTINGS, NOW)
    assert d is not None and d.accepted and d.inputs["sizing"]["capped_by"] == ["cash"]
    assert d.sizing is not None and d.sizing.shares * d.sizing.all_in_price <= D(100)
    assert d.inputs["book"]["cash"] == "100"
    for cash in (D(2), D(0), D(-50)):
        d = evaluate(trade(), WHALE, MARKET_VIEW, replace(BOOK, cash=cash), SETTINGS, NOW)
        assert d is not None and d.reason is Reason.BANKROLL_SPENT


def test_losses_shrink_the_kelly_bankroll_gains_do_not_grow_it() -> None:
    """Kelly stakes a fraction of the bankroll less what was lost to date: down 60 %, the stake
    is 40 % of what it was (on main the same, over-betting Kelly 2.5 times); up, unchanged."""
    full = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW)
    down = evaluate(trade(), WHALE, MARKET_VIEW, replace(BOOK, realized=D(-6000)), SETTINGS, NOW)
    up = evaluate(trade(), WHALE, MARKET_VIEW, replace(BOOK, realized=D(6000)), SETTINGS, NOW)
    assert full is not None and down is not None and up is not None
    assert full.sizing is not None and down.sizing is not None and up.sizing is not None
    assert down.sizing.stake_usd == full.sizing.stake_usd * D("0.4")
    assert up.sizing.stake_usd == full.sizing.stake_usd
    gone = evaluate(trade(), WHALE, MARKET_VIEW, replace(BOOK, realized=D(-10_500)), SETTINGS, NOW)
    assert gone is not None and gone.reason is Reason.BANKROLL_SPENT


@pytest.mark.parametrize(
    ("p", "q", "f"),
    [
        (0.6, D("0.5"), D("0.2")),
        (0.5, D("0.5"), D("0")),
        (0.4, D("0.5"), D("-0.2")),
        (0.9, D("0.8"), D("0.5")),
        (0.99, D("0.01"), D("0.98989898989898989898989899")),
    ],
)
def test_kelly_fraction(p: float, q: Decimal, f: Decimal) -> None:
    assert kelly_fraction_of_bankroll(p, q) == pytest.approx(f)


def test_sizing_rounds_to_tick_and_shares_and_adds_fees() -> None:
    s = SETTINGS.model_copy(update={"taker_fee_rate": 0.02, "paper_slippage_bps": 0.0})
    sz = size_position(0.7, D("0.503"), s, bankroll=D(1000), market_exposure=D(0), tick=D("0.01"))
    assert sz.price == D("0.51")
    assert sz.all_in_price == D("0.51") + D("0.02") * D("0.51") * D("0.49")
    assert sz.shares == sz.shares.quantize(D("0.01"))
    assert sz.size_usdc == (sz.shares * D("0.51")).quantize(D("0.000001"))
    coarse = size_position(
        0.7, D("0.503"), s, bankroll=D(1000), market_exposure=D(0), tick=D("0.1")
    )
    assert coarse.price == D("0.6")
    nothing = size_position(
        0.4, D("0.5"), s, bankroll=D(1000), market_exposure=D(0), tick=D("0.01")
    )
    assert nothing.shares == 0 and nothing.kelly_f < 0


def test_a_buy_worth_less_than_a_dollar_is_not_sent() -> None:
    """The CLOB refuses a marketable BUY worth less than $1 ("invalid amount for a marketable
    BUY order ($0.77), min size: $1") whatever its shares: 7 shares at 0.11 passed the 5-share
    minimum and went out to be refused live (and filled on paper, which the exchange never
    would have)."""
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.10"))
    t = trade(price=D("0.10"))

    def sized(bankroll: float) -> object:
        s = SETTINGS.model_copy(update={"bankroll_usd": bankroll, "max_position_usd": bankroll})
        return evaluate(t, WHALE, m, StrategyBook(bankroll=D(repr(bankroll))), s, NOW)

    small = sized(274.0)  # f = (0.12 - 0.11) / 0.89: stake 0.77, 7 shares at 0.11
    assert isinstance(small, Decision) and small.sizing is not None
    assert small.shares >= 5 and small.sizing.shares * small.sizing.price < 1
    assert small.reason is Reason.BELOW_MIN_SIZE and not small.accepted
    enough = sized(400.0)  # 10.2 shares at 0.11: $1.12
    assert isinstance(enough, Decision) and enough.accepted
    assert enough.size_usdc is not None and enough.size_usdc >= 1
