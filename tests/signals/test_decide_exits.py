"""The pure decision pipeline's exits: following the leader out, the minimum order size, when a
failed exit is due again (no database)."""

from __future__ import annotations

from datetime import timedelta

from orderflow.signals import MarketView, Reason, StrategyBook
from orderflow.signals.exits import RETRY_FIRST, RETRY_MAX, ExitsTried, exit_due, refused_as_such
from tests.signals.decision_inputs import BOOK, MARKET, NOW, SETTINGS, TOKEN, WHALE, D, trade


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
