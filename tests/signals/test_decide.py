"""The pure decision pipeline: rules, skip reasons, Kelly sizing, risk limits (no database)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orderflow.signals import (
    MarketView,
    OpenPosition,
    Reason,
    SignalType,
    StrategyBook,
    TradeView,
    WalletView,
    evaluate,
    kelly_fraction_of_bankroll,
    size_position,
)
from orderflow.signals.decide import Decision
from orderflow.signals.exits import (
    RETRY_FIRST,
    RETRY_MAX,
    ExitsTried,
    exit_due,
    refused_as_such,
)
from orderflow.signals.model import confidence, win_probability
from orderflow.signals.queries import wallet_view_from_stats
from orderflow.strategy.settings import StrategySettings

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TOKEN = 1234
MARKET = "0x" + "ab" * 32
D = Decimal


def trade(**kw: object) -> TradeView:
    base: dict[str, object] = {
        "chain_id": 137,
        "tx_hash": "0x" + "11" * 32,
        "log_index": 1,
        "wallet": "0x" + "aa" * 20,
        "side": "BUY",
        "token_id": TOKEN,
        "price": D("0.50"),
        "size": D("400"),
        "usdc_size": D("200"),
        "timestamp": NOW - timedelta(seconds=5),
        "market_id": MARKET,
        "outcome_index": 0,
        "id": 1,
    }
    base.update(kw)
    return TradeView(**base)  # type: ignore[arg-type]


# edges are per dollar: +0.20 per dollar at 0.50 is +0.10 per share
WHALE = WalletView("0x" + "aa" * 20, score=8.5, tier="WHALE", edge=0.20, edge_se=0.06)
DEGEN = WalletView("0x" + "bb" * 20, score=1.5, tier="DEGEN", edge=-0.20, edge_se=0.04)
MARKET_VIEW = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.50"))
BOOK = StrategyBook(bankroll=D(10_000))
SETTINGS = StrategySettings()


def test_follow_whale_accepted_with_kelly_size() -> None:
    d = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.signal_type is SignalType.FOLLOW_WHALE
    assert d.status == "PENDING" and d.reason is Reason.ACCEPTED
    # p = 0.50 + 0.20 x 0.50; q = 0.50 * 1.002 rounded up to the tick = 0.51
    assert d.win_probability == pytest.approx(0.60)
    assert d.price == D("0.51")
    f = (D("0.6") - D("0.51")) / (1 - D("0.51"))
    stake = f * D("0.25") * D(10_000)  # 459.18..., under the 1000 cap
    assert d.shares == (stake / D("0.51")).quantize(D("0.01"), rounding="ROUND_DOWN")
    assert d.inputs["sizing"]["capped_by"] == []


def test_small_or_unscored_or_mid_wallets_are_not_signals() -> None:
    assert evaluate(trade(usdc_size=D("10")), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    unscored = WalletView(WHALE.address, score=None)
    assert evaluate(trade(), unscored, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    mid = WalletView(WHALE.address, score=5.0, edge=0.1, edge_se=0.01)
    assert evaluate(trade(), mid, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    # A whale's SELL is not a follow signal.
    assert evaluate(trade(side="SELL"), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    off = SETTINGS.model_copy(update={"enable_whale_following": False})
    assert evaluate(trade(), WHALE, MARKET_VIEW, BOOK, off, NOW) is None


def _fade(**kw: object) -> tuple[TradeView, MarketView, StrategySettings]:
    t = trade(side="SELL", price=D("0.40"), wallet=DEGEN.address, **kw)
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.40"), window_high=D("0.50"))
    return t, m, SETTINGS.model_copy(update={"enable_degen_fading": True})


def test_fade_degen_panic_sell_definition() -> None:
    t, m, s = _fade()
    # Off by default.
    assert evaluate(t, DEGEN, m, BOOK, SETTINGS, NOW) is None
    d = evaluate(t, DEGEN, m, BOOK, s, NOW)
    assert d is not None and d.signal_type is SignalType.FADE_DEGEN and d.accepted
    # the seller's (negative) edge per dollar at risk, 1 - 0.40 a share: 0.40 + 0.20 x 0.60
    assert d.win_probability == pytest.approx(0.52)
    assert d.inputs["market"]["price_drop"] == "0.2"
    # A drop smaller than fade_price_drop (10 %) is not a panic sell.
    calm = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.40"), window_high=D("0.42"))
    assert evaluate(t, DEGEN, calm, BOOK, s, NOW) is None
    # No trades in the window: nothing to compare with, no signal.
    empty = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.40"))
    assert evaluate(t, DEGEN, empty, BOOK, s, NOW) is None
    # A SELL by a high scorer is not faded.
    assert evaluate(t, WHALE, m, BOOK, s, NOW) is None


@pytest.mark.parametrize(
    ("trade_kw", "market_kw", "book_kw", "reason", "status"),
    [
        ({"timestamp": NOW - timedelta(seconds=121)}, {}, {}, Reason.STALE, "EXPIRED"),
        ({}, {"resolved": True}, {}, Reason.MARKET_RESOLVED, "SKIPPED"),
        ({}, {"resolves_at": NOW + timedelta(seconds=30)}, {}, Reason.RESOLVES_SOON, "SKIPPED"),
        ({}, {"last_price": D("0.54")}, {}, Reason.PRICE_MOVED, "SKIPPED"),
        ({}, {"last_price": None}, {}, Reason.NO_PRICE, "SKIPPED"),
        ({}, {}, {"paused": True}, Reason.PAUSED, "SKIPPED"),
        ({}, {}, {"killed": True}, Reason.KILLED, "SKIPPED"),
        ({}, {}, {"day_pnl": D(-500)}, Reason.DAILY_LOSS, "SKIPPED"),
    ],
)
def test_skip_reasons(
    trade_kw: dict[str, object],
    market_kw: dict[str, object],
    book_kw: dict[str, object],
    reason: Reason,
    status: str,
) -> None:
    m = MarketView(**{"token_id": TOKEN, "market_id": MARKET, "last_price": D("0.50"), **market_kw})  # type: ignore[arg-type]
    b = StrategyBook(**{"bankroll": D(10_000), **book_kw})  # type: ignore[arg-type]
    d = evaluate(trade(**trade_kw), WHALE, m, b, SETTINGS, NOW)
    assert d is not None and d.reason is reason and d.status == status


def test_price_move_at_the_limit_is_still_accepted() -> None:
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.53"))
    d = evaluate(trade(), WHALE, m, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is not Reason.PRICE_MOVED


def test_low_confidence_and_unmeasured_wallets() -> None:
    noisy = WalletView(WHALE.address, score=8.0, edge=0.02, edge_se=0.1)  # Phi(0.2) = 0.579
    d = evaluate(trade(), noisy, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.LOW_CONFIDENCE
    assert d.confidence == pytest.approx(0.5793, abs=1e-3)
    stored = WalletView(WHALE.address, score=8.0, edge=0.2, edge_se=0.06, p_edge_above_cost=0.65)
    assert confidence(SignalType.FOLLOW_WHALE, stored) == 0.65  # the run's posterior wins
    unmeasured = WalletView(WHALE.address, score=9.0)
    d = evaluate(trade(), unmeasured, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.WALLET_UNMEASURED


@pytest.mark.parametrize("se", [None, 0.0, float("nan"), -1.0])
def test_no_uncertainty_means_no_confidence(se: float | None) -> None:
    """Issue 11: one resolved buy used to give confidence 0.92; no standard error gives none."""
    one_buy = WalletView(WHALE.address, score=9.0, edge=0.5, edge_se=se, resolved_buys=1)
    assert confidence(SignalType.FOLLOW_WHALE, one_buy) == 0.0
    d = evaluate(trade(), one_buy, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.LOW_CONFIDENCE


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


def test_maker_fills_and_flagged_wallets_are_never_signals() -> None:
    maker_fill = trade(is_taker=False)
    assert evaluate(maker_fill, WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    assert evaluate(trade(is_taker=True), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is not None
    for flag in ("MARKET_MAKER", "WASH", "PENNY_PICKER"):
        flagged = WalletView(WHALE.address, 9.5, "AVERAGE", 0.2, 0.06, 50, flags=(flag,))
        assert evaluate(trade(), flagged, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    t, m, s = _fade()
    wash = WalletView(DEGEN.address, 1.0, "DEGEN", -0.2, 0.04, 50, flags=("WASH",))
    assert evaluate(t, wash, m, BOOK, s, NOW) is None
    penny = WalletView(DEGEN.address, 1.0, "DEGEN", -0.2, 0.04, 50, flags=("PENNY_PICKER",))
    assert evaluate(t, penny, m, BOOK, s, NOW) is not None  # only a WASH wallet is never faded


def test_probability_and_confidence_are_never_the_score() -> None:
    a = WalletView(WHALE.address, score=9.9, edge=0.01, edge_se=0.02)
    b = WalletView(WHALE.address, score=7.0, edge=0.01, edge_se=0.02)
    t = trade()
    assert win_probability(SignalType.FOLLOW_WHALE, t, a) == win_probability(
        SignalType.FOLLOW_WHALE, t, b
    )
    assert confidence(SignalType.FOLLOW_WHALE, a) == confidence(SignalType.FOLLOW_WHALE, b)


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


def test_exit_decision_follows_only_the_leader_out() -> None:
    from orderflow.signals.exits import HeldPosition, exit_decision

    held = HeldPosition(TOKEN, D(100), WHALE.address, "FOLLOW_WHALE")
    sell = trade(side="SELL", price=D("0.70"))
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.70"))
    d = exit_decision(sell, held, m, BOOK, SETTINGS, NOW)
    assert d is not None and d.side == "SELL" and d.reason is Reason.EXIT_WITH_LEADER
    assert d.shares == D(100) and d.price == D("0.69")
    assert exit_decision(trade(), held, m, BOOK, SETTINGS, NOW) is None  # a buy
    other = trade(side="SELL", wallet="0x" + "cc" * 20)
    assert exit_decision(other, held, m, BOOK, SETTINGS, NOW) is None
    faded = HeldPosition(TOKEN, D(100), WHALE.address, "FADE_DEGEN")
    assert exit_decision(sell, faded, m, BOOK, SETTINGS, NOW) is None
    resolved = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.7"), resolved=True)
    assert exit_decision(sell, held, resolved, BOOK, SETTINGS, NOW) is None
    paused = exit_decision(sell, held, m, StrategyBook(D(10_000), paused=True), SETTINGS, NOW)
    assert paused is not None and paused.accepted  # pausing does not freeze risk
    killed = exit_decision(sell, held, m, StrategyBook(D(10_000), killed=True), SETTINGS, NOW)
    assert killed is not None and killed.reason is Reason.KILLED and not killed.accepted


def test_an_exit_under_the_minimum_order_size_is_not_sent() -> None:
    """The CLOB refuses any order under the market's minimum size: 4.99 shares are held."""
    from orderflow.signals.exits import HeldPosition, exit_decision

    sell = trade(side="SELL", price=D("0.70"))
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.70"))
    small = HeldPosition(TOKEN, D("4.99"), WHALE.address, "FOLLOW_WHALE")
    d = exit_decision(sell, small, m, BOOK, SETTINGS, NOW)
    assert d is not None and not d.accepted and d.reason is Reason.EXIT_BELOW_MIN_SIZE
    assert (
        d.status == "SKIPPED" and d.side == "SELL" and d.inputs["exit"]["min_order_size"] == "5.0"
    )
    five = HeldPosition(TOKEN, D(5), WHALE.address, "FOLLOW_WHALE")
    ok = exit_decision(sell, five, m, BOOK, SETTINGS, NOW)
    assert ok is not None and ok.accepted and ok.shares == D(5)
    big_min = MarketView(
        token_id=TOKEN, market_id=MARKET, last_price=D("0.7"), min_order_size=D(15)
    )
    d = exit_decision(
        sell,
        HeldPosition(TOKEN, D(10), WHALE.address, "FOLLOW_WHALE"),
        big_min,
        BOOK,
        SETTINGS,
        NOW,
    )
    assert d is not None and d.reason is Reason.EXIT_BELOW_MIN_SIZE


def test_fading_needs_the_seller_to_lose_more_than_our_cost() -> None:
    """A mild loser is surely below 0 but not below -cost: fading it pays more than it earns.

    P(edge < 0) = Phi(2.5) = 0.994 would fade it; P(edge < -0.02) = Phi(-2.5) = 0.006 does not.
    """
    t, m, s = _fade()
    mild = WalletView(DEGEN.address, 1.5, "DEGEN", -0.01, 0.004, 80, follower_cost=0.02)
    assert confidence(SignalType.FADE_DEGEN, mild) == pytest.approx(0.00621, abs=1e-4)
    d = evaluate(t, mild, m, BOOK, s, NOW)
    assert d is not None and d.reason is Reason.LOW_CONFIDENCE
    # the same wallet judged with no cost in its row: the stored P(edge < 0) as before
    legacy = WalletView(DEGEN.address, 1.5, "DEGEN", -0.01, 0.004, 80, p_edge_below_zero=0.994)
    assert confidence(SignalType.FADE_DEGEN, legacy) == 0.994
    heavy = WalletView(DEGEN.address, 1.0, "DEGEN", -0.20, 0.04, 80, follower_cost=0.02)
    assert confidence(SignalType.FADE_DEGEN, heavy) == pytest.approx(0.99999660, abs=1e-6)
    d = evaluate(t, heavy, m, BOOK, s, NOW)
    assert d is not None and d.accepted


def test_fading_is_judged_against_the_average_taker() -> None:
    """Every taker pays the spread and fees (the population's mean fee-net edge, here -0.10 a
    dollar); a fader pays them too and collects none of the seller's. A seller at the average
    is not worth fading however surely it loses, and a worse one is worth only its excess."""
    t, m, s = _fade()
    average = WalletView(DEGEN.address, 1.5, "DEGEN", -0.12, 0.02, 80, follower_cost=0.02)
    assert confidence(SignalType.FADE_DEGEN, average) > 0.9999  # judged against 0: "sure"
    judged = WalletView(
        DEGEN.address, 1.5, "DEGEN", -0.12, 0.02, 80, follower_cost=0.02, prior_mean=-0.10
    )
    assert confidence(SignalType.FADE_DEGEN, judged) == pytest.approx(0.5)  # Phi(0)
    d = evaluate(t, judged, m, BOOK, s, NOW)
    assert d is not None and d.reason is Reason.LOW_CONFIDENCE
    worse = WalletView(
        DEGEN.address, 1.0, "DEGEN", -0.30, 0.04, 80, follower_cost=0.02, prior_mean=-0.10
    )
    assert confidence(SignalType.FADE_DEGEN, worse) == pytest.approx(0.9999966, abs=1e-6)
    # Phi(4.5); its excess over the average taker, -0.20 a dollar at 1 - 0.40 a share: 0.40 + 0.12
    assert win_probability(SignalType.FADE_DEGEN, t, worse) == pytest.approx(0.52)
    d = evaluate(t, worse, m, BOOK, s, NOW)
    assert d is not None and d.accepted


@pytest.mark.parametrize("as_text", [False, True])
def test_wallet_view_reads_the_runs_follower_cost(as_text: bool) -> None:
    factors = {"posterior": {"edge": -0.01, "sd": 0.004, "follower_cost": 0.02, "prior_mean": -0.1}}
    row = {
        "wallet_address": DEGEN.address,
        "reputation_score": 1.5,
        "trader_tier": "DEGEN",
        "edge": -0.01,
        "edge_se": 0.004,
        "events_resolved": 80,
        "p_edge_below_zero": 0.994,
        "factors": json.dumps(factors) if as_text else factors,
    }
    view = wallet_view_from_stats(row)
    assert view.follower_cost == 0.02 and view.prior_mean == -0.1
    assert confidence(SignalType.FADE_DEGEN, view) < 0.01
    assert wallet_view_from_stats({**row, "factors": None}).follower_cost is None


@pytest.mark.parametrize("price", ["0", "0.003", "0.005", "0.01"])
def test_a_cheap_token_is_not_bought_above_its_estimated_value(price: str) -> None:
    """p used to be clipped up to 0.02: a whale's buy at 0.005 (p = 0.005 x 1.2 = 0.006) was
    bought at 0.01 as if it won 2 % of the time: 2,525 shares paying 0.01 for 0.006 of value.
    Raising a low estimate invents an edge; only the upper clip (0.98) stays."""
    px = D(price)
    cheap = MarketView(token_id=TOKEN, market_id=MARKET, last_price=px)
    d = evaluate(trade(price=px), WHALE, cheap, BOOK, SETTINGS, NOW)  # pays 0.01 or 0.02
    assert d is not None and d.win_probability == pytest.approx(float(px) * 1.2)
    assert d.reason is Reason.NO_EDGE and not d.accepted and d.shares == 0
    # On a 0.001 tick without slippage the whale's edge is real, and so is its (small) size:
    # Kelly at the estimate, not at 0.02 (at 0.005 that was ten times the stake).
    fine = SETTINGS.model_copy(update={"paper_slippage_bps": 0.0, "tick_size": 0.001})
    d = evaluate(trade(price=px), WHALE, cheap, BOOK, fine, NOW)
    assert d is not None and d.sizing is not None
    if px == 0:
        assert d.reason is Reason.NO_EDGE  # bought at the tick, worth nothing by the estimate
    else:
        assert d.sizing.kelly_f == pytest.approx((D("1.2") * px - px) / (1 - px))
    # the fader's p is not raised either: a dump at 0.01 by a wallet no worse than average
    average = WalletView(DEGEN.address, 1.0, "DEGEN", 0.0, 0.01, 80, p_edge_below_zero=0.9)
    t = trade(side="SELL", price=D("0.01"), wallet=DEGEN.address)
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.01"), window_high=D("0.05"))
    fade = SETTINGS.model_copy(update={"enable_degen_fading": True, "paper_slippage_bps": 0.0})
    d = evaluate(t, average, m, BOOK, fade, NOW)
    assert d is not None and d.win_probability == pytest.approx(0.01)
    assert d.reason is Reason.NO_EDGE


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


@pytest.mark.parametrize("signal", ["follow", "fade"])
def test_a_price_that_fell_since_the_leader_is_no_extra_edge(signal: str) -> None:
    """p was anchored at the leader's price only: a whale's buy at 0.60 (p = 0.72 at +0.20 a
    dollar) with the market at 0.20 a minute later was bought at 0.21 as if it still won 72 %
    of the time — the full per-trade cap on a market that has just told everyone otherwise.
    A fall since the leader's trade is news, not a discount: p now starts from the lower of the
    leader's price and the market's, so the wallet's edge is credited on what we pay."""
    if signal == "follow":
        kw: dict[str, object] = {}
        who, paid, fell = WHALE, D("0.60"), D("0.20")
        settings = SETTINGS
    else:
        kw = {"side": "SELL", "wallet": DEGEN.address}
        who, paid, fell = DEGEN, D("0.40"), D("0.15")
        settings = SETTINGS.model_copy(update={"enable_degen_fading": True})
    high = D("0.80")  # the fade's panic: a fall from the window's high
    now = MarketView(token_id=TOKEN, market_id=MARKET, last_price=fell, window_high=high)
    d = evaluate(trade(price=paid, **kw), who, now, BOOK, settings, NOW)
    same = MarketView(token_id=TOKEN, market_id=MARKET, last_price=fell, window_high=high)
    there = evaluate(trade(price=fell, **kw), who, same, BOOK, settings, NOW)
    assert d is not None and there is not None
    # as if the leader had traded at today's price: no more edge, no larger stake
    assert d.win_probability == pytest.approx(there.win_probability)
    assert d.shares == there.shares


def test_a_leader_that_has_sold_since_its_buy_is_not_followed() -> None:
    """A whale's buy whose token it has sold since (a later stored SELL) is no entry: we would
    hold what the leader already left. Only a followed buy is refused this way."""
    gone = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.50"), leader_exited=True)
    d = evaluate(trade(), WHALE, gone, BOOK, SETTINGS, NOW)
    assert d is not None and d.reason is Reason.LEADER_EXITED and not d.accepted
    assert d.inputs["market"]["leader_exited"] is True
    d = evaluate(trade(), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW)
    assert d is not None and d.accepted
    t, m, s = _fade()  # a panic seller that sold again is still faded
    d = evaluate(t, DEGEN, replace(m, leader_exited=True), BOOK, s, NOW)
    assert d is not None and d.accepted


def test_a_failed_exit_is_due_again_after_a_doubling_pause() -> None:
    def tried(
        n: int,
        since: timedelta = timedelta(0),
        reason: str = "order_rejected: http 429",
        live: bool = False,
    ) -> ExitsTried:
        return ExitsTried(1, n, n, live, reason if n else None, since if n else None)

    assert exit_due(tried(0))  # the sell found nothing to exit: at once
    assert not exit_due(tried(0, live=True))
    assert not exit_due(tried(1, RETRY_FIRST - timedelta(microseconds=1)))
    assert exit_due(tried(1, RETRY_FIRST))
    assert not exit_due(tried(3, 3 * RETRY_FIRST))
    assert exit_due(tried(3, 4 * RETRY_FIRST))
    assert exit_due(tried(500, RETRY_MAX))  # the pause stops doubling
    assert not exit_due(tried(2, RETRY_MAX, live=True))
    assert not exit_due(tried(1, timedelta(days=1), "exit_below_min_size"))
    assert not exit_due(tried(1, timedelta(days=1), "exit_below_min_size"), killed=False)
    # skipped for a kill: not while the strategy is killed, at the usual pause once it is not
    assert not exit_due(tried(1, timedelta(days=1), "strategy_killed"), killed=True)
    assert not exit_due(tried(1, RETRY_FIRST - timedelta(microseconds=1), "strategy_killed"))
    assert exit_due(tried(1, RETRY_FIRST, "strategy_killed"), killed=False)


def test_an_exchange_taking_no_order_now_is_no_refusal_of_the_exit_itself() -> None:
    """Only the order's own refusals, five in a row, make an exit hourly: not the exchange
    restricted (its engine restarting, cancel-only, post-only), as LiveBroker words them."""
    for passing in (
        "order_rejected: http 425: trading restricted (restarting)",
        "order_rejected: http 503: trading restricted (cancel_only)",
        "order_rejected: http 503: trading restricted (post_only)",
        "order_rejected: post_only_mode: post-only mode: only post-only orders and cancels are"
        " allowed",
        "order_rejected: http 429: rate limited",
    ):
        assert not refused_as_such(passing), passing
    assert refused_as_such("order_rejected: not enough balance / allowance")
    assert refused_as_such("order_rejected: http 400: price 0.489 not on tick 0.01")
