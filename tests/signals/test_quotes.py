"""The quote rule on hand-made levels (orderflow.signals.quotes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from orderflow.signals.quotes import Seen, levels_of, quote

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def at(secs: int) -> datetime:
    return T0 + timedelta(seconds=secs)


def test_a_fill_shows_the_side_its_taker_met_and_the_mirror_level_of_the_complement() -> None:
    assert levels_of(1, 2, "SELL", False, D("0.40")) == [
        (1, "BUY", D("0.40")),
        (2, "SELL", D("0.60")),
    ]
    assert levels_of(1, 2, "BUY", True, D("0.40")) == [
        (1, "BUY", D("0.40")),
        (2, "SELL", D("0.60")),
    ]
    assert levels_of(1, None, "BUY", False, D("0.40")) == [(1, "SELL", D("0.40"))]
    assert levels_of(1, None, "SELL", True, D("0.40")) == [(1, "SELL", D("0.40"))]


def test_the_ask_is_the_worst_level_taken_last_raised_to_a_bid_hit_since() -> None:
    seen = [
        Seen(at(0), "BUY", D("0.40")),  # an older ask
        Seen(at(10), "BUY", D("0.48")),  # a taker walked 0.48 and 0.50
        Seen(at(10), "BUY", D("0.50")),
        Seen(at(20), "SELL", D("0.45")),  # a seller hit a bid below: the ask stays 0.50
    ]
    assert quote(seen, "BUY") == D("0.50")
    assert quote([*seen, Seen(at(30), "SELL", D("0.55"))], "BUY") == D("0.55")
    assert quote(seen, "SELL") == D("0.45")


def test_the_bid_is_the_lowest_level_hit_last_lowered_to_an_ask_taken_since() -> None:
    seen = [
        Seen(at(0), "SELL", D("0.60")),
        Seen(at(5), "SELL", D("0.58")),
        Seen(at(9), "BUY", D("0.52")),
    ]
    assert quote(seen, "SELL") == D("0.52")


def test_no_level_of_the_side_no_quote() -> None:
    assert quote([Seen(at(0), "SELL", D("0.45"))], "BUY") is None
    assert quote([], "SELL") is None


def test_a_print_no_resting_order_could_make_is_no_level() -> None:
    """A price-0 "ask" (a wash pair's gift) or a "bid" at 1 or more: the CLOB rests orders
    strictly between 0 and 1, so no taker met such a level. Taken as the quote, a price-0 print
    priced a follow at the tick and sized it by Kelly at that price: the strategy's whole
    position cap in shares at 0.01, resting live for a market trading at 0.50."""
    seen = [
        Seen(at(0), "BUY", D("0.50")),
        Seen(at(10), "BUY", D("0")),  # the latest "ask"
        Seen(at(20), "SELL", D("1")),  # the latest "bid"
    ]
    assert quote(seen, "BUY") == D("0.50")
    assert quote([Seen(at(0), "SELL", D("0.45")), *seen[2:]], "SELL") == D("0.45")
    assert quote([Seen(at(0), "BUY", D("0"))], "BUY") is None
