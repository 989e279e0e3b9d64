"""The signer's buckets as the answers report them (:mod:`orderflow.execution.signer_pacing`),
and the kills' priority on the cancel bucket (:meth:`OrderCanceller._admitted`), on given clocks
and answers: no exchange, no time passing."""

from __future__ import annotations

from typing import Any, cast

import pytest
from polymarket import RateLimitUpdate
from polymarket.errors import RateLimitError

from orderflow.execution.broker import ExchangeBusyError
from orderflow.execution.cancels import OrderCanceller
from orderflow.execution.signer_pacing import PROBE_SECS, Kind, SignerPacing
from orderflow.signals.risk import Reason


class Clocks:
    def __init__(self) -> None:
        self.mono = 100.0
        self.wall = 1_800_000_000.0

    def pass_(self, secs: float) -> None:
        self.mono += secs
        self.wall += secs


def _pacing(clocks: Clocks) -> SignerPacing:
    return SignerPacing(lambda: clocks.mono, lambda: clocks.wall)


def _admitted(pacing: SignerPacing, kind: Kind, cost: float, remaining: float) -> None:
    with pacing.drawing(kind, cost):
        pacing.seen(RateLimitUpdate(remaining=remaining, tier="standard"))


def _refused(pacing: SignerPacing, kind: Kind, cost: float, remaining: float, reset: float) -> None:
    update = RateLimitUpdate(remaining=remaining, reset=reset, tier="standard")
    with pytest.raises(RateLimitError), pacing.drawing(kind, cost):
        pacing.seen(update)
        raise RateLimitError("rate limited", retry_after=2.0, rate_limit=update)


def test_an_empty_bucket_of_unknown_refill_lets_one_out_to_learn_it() -> None:
    clocks = Clocks()
    pacing = _pacing(clocks)
    assert pacing.wait("order") == 0  # nothing known: sent
    _admitted(pacing, "order", 1, remaining=0.0)
    assert pacing.wait("order") == pytest.approx(PROBE_SECS)
    clocks.pass_(PROBE_SECS)
    assert pacing.wait("order") == 0  # the probe


def test_a_refusal_s_reset_teaches_the_rate_and_the_wait_follows_it() -> None:
    clocks = Clocks()
    pacing = _pacing(clocks)
    _admitted(pacing, "order", 1, remaining=0.0)
    clocks.pass_(1.0)
    _refused(pacing, "order", 1, remaining=0.4, reset=clocks.wall + 1.5)  # 0.6 in 1.5 s
    assert pacing.buckets["order"].rate == pytest.approx(0.4)
    assert 1.5 < pacing.wait("order") < 1.7  # the refill's, with its margin
    clocks.pass_(1.6)
    assert pacing.wait("order") == 0
    assert pacing.wait("cancel") == 0  # the other bucket: nothing known of it


def test_capacity_is_the_largest_request_held_and_a_new_tier_forgets_it() -> None:
    clocks = Clocks()
    pacing = _pacing(clocks)
    _admitted(pacing, "cancel", 2, remaining=3.0)
    _admitted(pacing, "cancel", 1, remaining=2.0)
    assert pacing.capacity("cancel") == 5
    assert pacing.admits_now("cancel") == 2
    with pacing.drawing("cancel", 1):
        pacing.seen(RateLimitUpdate(remaining=40.0, tier="pro"))
    assert pacing.tier == "pro" and pacing.capacity("cancel") == 41


def test_answers_without_the_limiter_s_headers_are_unmetered() -> None:
    pacing = _pacing(Clocks())
    _admitted(pacing, "cancel", 2, remaining=0.0)
    with pacing.drawing("cancel", 2):
        pass  # answered, no Poly-RateLimit-* header
    assert "cancel" in pacing.unmetered and pacing.wait("cancel", 50) == 0


def _canceller() -> OrderCanceller:
    return OrderCanceller(
        cast(Any, None), book=cast(Any, None), reconcile=cast(Any, None), refused=cast(Any, None)
    )


def test_a_kill_s_cancels_go_first_and_the_others_wait_for_it() -> None:
    """A cancel bucket of two with one token left: the kill of three sends one now and waits
    for the refill; meanwhile a leader's exit's cancel is held (not sent to spend the kill's
    tokens); once every id of the kill went, it goes as the bucket admits it."""
    clocks = Clocks()
    pacing = _pacing(clocks)
    _admitted(pacing, "cancel", 1, remaining=1.0)
    canceller = _canceller()
    assert canceller._admitted(pacing, ["a", "b", "c"], "one", Reason.KILLED) == ["a"]
    _admitted(pacing, "cancel", 1, remaining=0.0)
    with pytest.raises(ExchangeBusyError, match="a kill's cancels first"):
        canceller._admitted(pacing, ["x"], "two", Reason.LEADER_EXITED)
    clocks.pass_(PROBE_SECS)
    assert canceller._admitted(pacing, ["b", "c"], "one", Reason.KILLED) == ["b"]
    _admitted(pacing, "cancel", 1, remaining=2.0)  # refilled meanwhile
    assert canceller._admitted(pacing, ["c"], "one", Reason.KILLED) == ["c"]
    assert canceller.killing == set()
    assert canceller._admitted(pacing, ["x"], "two", Reason.LEADER_EXITED) == ["x"]
