"""The book matches like the CLOB: best price first, maker's price, transfer / mint / merge."""

from __future__ import annotations

from orderflow.sim.book import Book, Order

S = 1_000_000  # one share in base units


def _book() -> Book:
    book = Book()
    book.add(Order(1, "SELL", 0, 61, 10 * S, 1, "0x01"))  # YES ask 61 (transfer)
    book.add(Order(2, "BUY", 1, 40, 10 * S, 2, "0x02"))  # NO bid 40 = YES ask 60 (mint)
    book.add(Order(3, "BUY", 0, 58, 10 * S, 3, "0x03"))  # YES bid 58 (transfer)
    book.add(Order(4, "SELL", 1, 41, 10 * S, 4, "0x04"))  # NO ask 41 = YES bid 59 (merge)
    return book


def test_prices_are_quoted_in_each_token() -> None:
    book = _book()
    assert book.taker_price("BUY", 0) == 60 and book.taker_price("SELL", 0) == 59
    assert book.taker_price("BUY", 1) == 41 and book.taker_price("SELL", 1) == 40


def test_a_buy_walks_levels_at_each_makers_price() -> None:
    book = _book()
    holdings = {1: {0: 10 * S}, 2: {}, 3: {}, 4: {1: 10 * S}}
    takes = book.walk("BUY", 0, 61, 0, 1_000 * S, 9, holdings, 0)
    assert [(t.order.order_hash, t.shares, t.taker_cents) for t in takes] == [
        ("0x02", 10 * S, 60),  # mint first: the better price
        ("0x01", 10 * S, 61),
    ]
    assert book.asks == []


def test_limits_budgets_and_maker_inventory_bound_a_walk() -> None:
    book = _book()
    holdings = {1: {0: 3 * S}, 2: {}, 3: {}, 4: {1: 10 * S}}
    takes = book.walk("BUY", 0, 60, 0, 1_000 * S, 9, holdings, 0)  # limit 60: one level only
    assert [t.order.order_hash for t in takes] == ["0x02"]
    book = _book()
    takes = book.walk("BUY", 0, 99, 0, 4_800_000, 9, holdings, 0)  # 4.80 USDC at 0.60
    assert [t.shares for t in takes] == [8 * S]
    book = _book()
    takes = book.walk("BUY", 0, 99, 0, 1_000 * S, 9, holdings, 0)
    assert [(t.order.order_hash, t.shares) for t in takes] == [("0x02", 10 * S), ("0x01", 3 * S)]


def test_a_sell_of_no_merges_against_a_yes_sell_and_skips_own_orders() -> None:
    book = _book()
    holdings = {1: {0: 10 * S}, 2: {}, 3: {}, 4: {}}
    takes = book.walk("SELL", 1, 30, 15 * S, 0, 2, holdings, 0)  # taker 2 owns 0x02
    assert [(t.order.order_hash, t.shares, t.taker_cents) for t in takes] == [
        ("0x01", 10 * S, 39)  # SELL NO at 0.39 meets SELL YES at 0.61: a merge
    ]
    assert [o.order_hash for o in book.asks] == ["0x02"]
    # A maker SELL order whose owner no longer holds the shares is dropped, not filled.
    book = _book()
    takes = book.walk("SELL", 0, 50, 5 * S, 0, 9, {1: {}, 2: {}, 3: {}, 4: {}}, 0)
    assert [(t.order.order_hash, t.shares, t.taker_cents) for t in takes] == [("0x03", 5 * S, 58)]
    assert [o.order_hash for o in book.bids] == ["0x03"]


def test_market_makers_lean_toward_the_truth_by_their_skill() -> None:
    import random

    from orderflow.sim import SimConfig
    from orderflow.sim.agents import Wallet
    from orderflow.sim.exchange import State, fair_value
    from orderflow.sim.markets import Condition

    c = Condition(0, "0x00", False, 0, 0.5, 0.0, 1e9, (1, 0), [0.5, 0.6, 0.52], 1, 100 * S)
    wallets = [Wallet("0x01", "market_maker", skill, 0, 0.0) for skill in (0.0, 0.04, -0.04)]
    st = State(SimConfig(), random.Random(0), wallets, [], [c], 1e9)
    hour1, hour2 = 3600.0, 7200.0  # public = the path one hour earlier
    assert [round(fair_value(st, i, c, hour1), 4) for i in range(3)] == [0.5, 0.54, 0.46]
    assert [round(fair_value(st, i, c, hour2), 4) for i in range(3)] == [0.6, 0.56, 0.64]
