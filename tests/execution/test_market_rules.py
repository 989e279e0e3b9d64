"""The live broker's cache of market rules: how long a minimum is kept, how a failed read pauses
the next ones, and what a refusal under the minimum teaches (no I/O: a movable clock)."""

from __future__ import annotations

from decimal import Decimal

from orderflow.execution.broker import MarketRules
from orderflow.execution.market_rules import RulesCache, refused_minimum

FIFTEEN = MarketRules(min_order_size=Decimal(15), tick_size=Decimal("0.001"))


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rules_are_kept_for_their_lifetime_then_read_again() -> None:
    clock = Monotonic()
    cache = RulesCache(ttl_secs=3600, retry_secs=60, clock=clock)
    assert cache.lookup(1) == (True, None)
    cache.store(1, FIFTEEN)
    clock.now += 3599
    assert cache.lookup(1) == (False, FIFTEEN)
    clock.now += 1
    assert cache.lookup(1) == (True, FIFTEEN)  # asked again; the old rules meanwhile


def test_a_busy_exchange_pauses_every_read_and_a_missing_book_only_its_own() -> None:
    clock = Monotonic()
    cache = RulesCache(ttl_secs=3600, retry_secs=60, clock=clock)
    cache.failed(1, busy=False)  # 404: that token has no book
    assert cache.lookup(1) == (False, None) and cache.lookup(2) == (True, None)
    cache.failed(2, busy=True)  # 503, 429, no answer: no token is asked for a minute
    assert cache.lookup(3) == (False, None)
    clock.now += 60
    assert cache.lookup(1)[0] and cache.lookup(2)[0] and cache.lookup(3)[0]


def test_a_refusal_under_the_minimum_records_the_minimum_it_states() -> None:
    cache = RulesCache(clock=Monotonic())
    cache.store(1, MarketRules(min_order_size=Decimal(5), tick_size=Decimal("0.001")))
    reason = "http 400: order 0xab is invalid. Size (10) lower than the minimum: 15"
    assert cache.refused(1, reason) == 15
    assert cache.lookup(1) == (False, FIFTEEN)  # the tick kept
    assert cache.refused(2, "http 400: not enough balance / allowance") is None
    assert cache.lookup(2) == (True, None)
    assert refused_minimum("Size (1.08) lower than the minimum: 2.5") == Decimal("2.5")
    assert refused_minimum(None) is None


def test_a_refusal_stating_a_minimum_no_market_has_records_nothing() -> None:
    """A refusal stating a minimum of 10⁹ shares was recorded: every exit of the token was then
    skipped ``exit_below_min_size`` and its position held to resolution."""
    cache = RulesCache(clock=Monotonic())
    assert cache.refused(1, "Size (10) lower than the minimum: 1000000000") is None
    assert cache.refused(1, "Size (10) lower than the minimum: 0") is None
    assert cache.lookup(1) == (True, None)
