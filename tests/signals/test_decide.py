"""The pure decision pipeline's rules: which trades are signals, skip reasons, the win
probability and confidence (no database). Sizing and risk limits: test_decide_sizing.py; exits:
test_decide_exits.py; their inputs: decision_inputs.py."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from orderflow.signals import MarketView, Reason, SignalType, StrategyBook, WalletView, evaluate
from orderflow.signals.model import confidence, win_probability
from orderflow.signals.queries import wallet_view_from_stats
from tests.signals.decision_inputs import (
    BOOK,
    DEGEN,
    MARKET,
    MARKET_VIEW,
    NOW,
    SETTINGS,
    TOKEN,
    WHALE,
    D,
    fade_inputs,
    trade,
)


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


def test_fade_degen_panic_sell_definition() -> None:
    t, m, s = fade_inputs()
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


def test_maker_fills_and_flagged_wallets_are_never_signals() -> None:
    maker_fill = trade(is_taker=False)
    assert evaluate(maker_fill, WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    assert evaluate(trade(is_taker=True), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is not None
    for flag in ("MARKET_MAKER", "WASH", "PENNY_PICKER"):
        flagged = WalletView(WHALE.address, 9.5, "AVERAGE", 0.2, 0.06, 50, flags=(flag,))
        assert evaluate(trade(), flagged, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    t, m, s = fade_inputs()
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


def test_fading_needs_the_seller_to_lose_more_than_our_cost() -> None:
    """A mild loser is surely below 0 but not below -cost: fading it pays more than it earns.

    P(edge < 0) = Phi(2.5) = 0.994 would fade it; P(edge < -0.02) = Phi(-2.5) = 0.006 does not.
    """
    t, m, s = fade_inputs()
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
    t, m, s = fade_inputs()
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


@pytest.mark.parametrize("price", ["0.003", "0.005", "0.01"])
def test_a_cheap_token_is_not_bought_above_its_estimated_value(price: str) -> None:
    """p used to be clipped up to 0.02: a whale's buy at 0.005 (p = 0.005 x 1.2 = 0.006) was
    bought at 0.01 as if it won 2 % of the time: 2,525 shares paying 0.01 for 0.006 of value.
    Raising a low estimate invents an edge; only the upper clip (0.98) stays. (A fill at 0 is
    no decision at all: test_a_fill_at_no_price_is_no_signal.)"""
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
    assert d.sizing.kelly_f == pytest.approx((D("1.2") * px - px) / (1 - px))
    # the fader's p is not raised either: a dump at 0.01 by a wallet no worse than average
    average = WalletView(DEGEN.address, 1.0, "DEGEN", 0.0, 0.01, 80, p_edge_below_zero=0.9)
    t = trade(side="SELL", price=D("0.01"), wallet=DEGEN.address)
    m = MarketView(token_id=TOKEN, market_id=MARKET, last_price=D("0.01"), window_high=D("0.05"))
    fade = SETTINGS.model_copy(update={"enable_degen_fading": True, "paper_slippage_bps": 0.0})
    d = evaluate(t, average, m, BOOK, fade, NOW)
    assert d is not None and d.win_probability == pytest.approx(0.01)
    assert d.reason is Reason.NO_EDGE


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
    t, m, s = fade_inputs()  # a panic seller that sold again is still faded
    d = evaluate(t, DEGEN, replace(m, leader_exited=True), BOOK, s, NOW)
    assert d is not None and d.accepted


@pytest.mark.parametrize("price", ["0", "1", "1.5"])
def test_a_fill_at_no_price_is_no_signal(price: str) -> None:
    """No order rests at 0, or at 1 or more (orderflow.signals.quotes.is_level): such a fill
    (a gift, a wash print) is no decision of its wallet, neither followed nor faded."""
    assert evaluate(trade(price=D(price)), WHALE, MARKET_VIEW, BOOK, SETTINGS, NOW) is None
    _, m, s = fade_inputs()
    dump = trade(side="SELL", price=D(price), wallet=DEGEN.address)
    assert evaluate(dump, DEGEN, m, BOOK, s, NOW) is None
