"""The replay's paper book: entries, exits in full, settlement, and what each signal carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from orderflow.backtest.book import Book, SignalRecord
from orderflow.backtest.followers import Intent
from orderflow.backtest.tape import Tape
from orderflow.execution.broker import FillReport
from orderflow.signals.views import TradeView, WalletView

T0 = datetime(2026, 5, 1, tzinfo=UTC)
LEADER = "0x" + "11" * 20


def book_order(
    book: Book,
    trade: TradeView,
    wallet: WalletView,
    intent: Intent,
    now: datetime,
    filled: tuple[Decimal, Decimal, Decimal],
) -> SignalRecord:
    """A signal whose order filled ``(shares, collateral, fee)`` at ``now`` and closed."""
    signal = book.record(trade, wallet, intent, now)
    shares, usdc, fee = filled
    if shares > 0:
        report = FillReport(
            fill_key="test", shares=shares, usdc=usdc, fee=fee, price=usdc / shares, at=now
        )
        book.fill(signal, report)
    book.order_ended(signal, "filled" if shares > 0 else "expired", now, "no_liquidity")
    return signal


def _trade(side: str, price: str, at: datetime, n: int) -> TradeView:
    return TradeView(
        chain_id=137,
        tx_hash="0x" + f"{n:064x}",
        log_index=n,
        wallet=LEADER,
        side=side,  # type: ignore[arg-type]
        token_id=7,
        price=Decimal(price),
        size=Decimal(100),
        usdc_size=Decimal(price) * 100,
        timestamp=at,
        market_id="0x" + "ab" * 32,
        outcome_index=0,
    )


def test_exit_sells_the_whole_position_and_books_its_pnl_on_the_entry() -> None:
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal("0.02"))
    wallet = WalletView(LEADER, 9.0)
    entry = book_order(
        book,
        _trade("BUY", "0.40", T0, 1),
        wallet,
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(100), Decimal("0.41")),
        T0,
        (Decimal(100), Decimal("41.000000"), Decimal("0.483800")),
    )
    assert book.leaders() == {7: (LEADER, "FOLLOW_WHALE")}
    # fee = shares x rate x p x (1 - p): 100 x 0.02 x 0.41 x 0.59
    assert entry.fee == Decimal("0.483800") and entry.size_usdc == Decimal("41.000000")
    later = T0 + timedelta(hours=3)
    exit_ = book_order(
        book,
        _trade("SELL", "0.60", later, 2),
        wallet,
        Intent(
            "FOLLOW_WHALE", True, "exit_with_leader", Decimal(100), Decimal("0.59"), side="SELL"
        ),
        later,
        (Decimal(100), Decimal(59), Decimal(100) * Decimal("0.02") * Decimal("0.2419")),
    )
    assert book.open == {} and book.leaders() == {}
    sell_fee = Decimal(100) * Decimal("0.02") * Decimal("0.59") * Decimal("0.41")
    expected = (Decimal(59) - sell_fee) - (Decimal(41) + entry.fee)
    assert entry.pnl == expected.quantize(Decimal("0.000001"))
    assert (entry.closed_at, entry.close_reason) == (later, "exit")
    assert exit_.side == "SELL" and exit_.pnl is None and not exit_.is_entry
    assert book.realized == entry.pnl
    assert book.equity(Tape(900)) == Decimal(1000) + entry.pnl
    # Nothing is left to settle.
    book.settle("0x" + "ab" * 32, (Decimal(1), Decimal(0)), later + timedelta(days=1), Tape(900))
    assert entry.close_reason == "exit"


def test_exit_without_a_position_is_recorded_as_skipped() -> None:
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal(0))
    signal = book.record(
        _trade("SELL", "0.60", T0, 1),
        WalletView(LEADER, 9.0),
        Intent("FOLLOW_WHALE", True, "exit_with_leader", Decimal(10), Decimal("0.59"), side="SELL"),
        T0,
    )
    assert (signal.status, signal.reason) == ("SKIPPED", "no_position")


def test_accepted_order_with_nothing_to_fill_is_skipped_no_liquidity() -> None:
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal(0))
    signal = book_order(
        book,
        _trade("BUY", "0.40", T0, 1),
        WalletView(LEADER, 9.0),
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(100), Decimal("0.41")),
        T0,
        (Decimal(0), Decimal(0), Decimal(0)),
    )
    assert (signal.status, signal.reason) == ("SKIPPED", "no_liquidity") and book.open == {}


def test_partial_exit_keeps_the_rest_open() -> None:
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal(0))
    wallet = WalletView(LEADER, 9.0)
    entry = book_order(
        book,
        _trade("BUY", "0.40", T0, 1),
        wallet,
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(100), Decimal("0.41")),
        T0,
        (Decimal(100), Decimal(40), Decimal(0)),
    )
    book_order(
        book,
        _trade("SELL", "0.50", T0, 2),
        wallet,
        Intent(
            "FOLLOW_WHALE", True, "exit_with_leader", Decimal(100), Decimal("0.49"), side="SELL"
        ),
        T0,
        (Decimal(30), Decimal(15), Decimal(0)),  # only 30 shares of bids
    )
    assert book.open[7].position.shares == Decimal(70) and entry.closed_at is None
    assert book.realized == Decimal(30) * (Decimal("0.50") - Decimal("0.40"))
    # The 70 shares kept to the resolution, at their cost: what the verdict's no-edge variance
    # reads (the 30 sold add none).
    book.settle("0x" + "ab" * 32, (Decimal(1), Decimal(0)), T0 + timedelta(days=1), Tape(3600))
    assert (entry.settled_shares, entry.settled_price) == (Decimal(70), Decimal("0.40"))


def test_an_entry_into_dust_adds_to_it_and_the_position_follows_the_new_leader() -> None:
    """3 shares left after a partial exit (under the minimum: held) no longer refuse a new
    entry in their market; the entry's fill adds to them (it used to replace the position,
    dropping the 3 shares and their cost from the book) and the position follows its leader."""
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal(0))
    wallet = WalletView(LEADER, 9.0)
    book_order(
        book,
        _trade("BUY", "0.40", T0, 1),
        wallet,
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(100), Decimal("0.41")),
        T0,
        (Decimal(100), Decimal(40), Decimal(0)),
    )
    book_order(
        book,
        _trade("SELL", "0.50", T0, 2),
        wallet,
        Intent(
            "FOLLOW_WHALE", True, "exit_with_leader", Decimal(100), Decimal("0.49"), side="SELL"
        ),
        T0,
        (Decimal(97), Decimal("48.5"), Decimal(0)),  # 3 shares left: dust
    )
    second = replace(_trade("BUY", "0.45", T0, 3), wallet="0x" + "22" * 20)
    book_order(
        book,
        second,
        WalletView(second.wallet, 9.0),
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(20), Decimal("0.46")),
        T0,
        (Decimal(20), Decimal(9), Decimal(0)),
    )
    position = book.open[7].position
    assert (position.shares, position.cost_basis) == (Decimal(23), Decimal("1.2") + Decimal(9))
    assert book.leaders() == {7: (second.wallet, "FOLLOW_WHALE")}


def test_day_pnl_is_the_executors_change_since_midnights_mark() -> None:
    """docs/executor.md's worked example: up since bought, down today, is a loss today."""
    book = Book(bankroll=Decimal(1000), fee_rate=Decimal(0))
    tape = Tape(900)
    wallet = WalletView(LEADER, 9.0)
    yesterday = T0 + timedelta(hours=10)
    buy = _trade("BUY", "0.50", yesterday, 1)
    tape.observe(buy)
    book.view(yesterday, tape)
    book_order(
        book,
        buy,
        wallet,
        Intent("FOLLOW_WHALE", True, "accepted", Decimal(100), Decimal("0.50")),
        yesterday,
        (Decimal(100), Decimal(50), Decimal(0)),
    )
    late = _trade("BUY", "0.70", yesterday + timedelta(hours=12), 2)
    tape.observe(late)
    assert book.view(late.timestamp, tape).day_pnl == Decimal(20)  # yesterday: +20
    today = T0 + timedelta(days=1, hours=9)
    sell = _trade("SELL", "0.60", today, 3)
    tape.observe(sell)
    assert book.view(today, tape).day_pnl == Decimal(-10)  # 0.70 -> 0.60 on 100 shares
    book_order(
        book,
        sell,
        wallet,
        Intent("FOLLOW_WHALE", True, "exit", Decimal(40), Decimal("0.60"), side="SELL"),
        today,
        (Decimal(40), Decimal(24), Decimal(0)),
    )
    tape.observe(_trade("BUY", "0.55", today + timedelta(hours=1), 4))
    # realized +4 on 40 shares, unrealized now 60 x 0.55 - 30 = +3, midnight's mark +20
    assert book.view(today + timedelta(hours=1), tape).day_pnl == Decimal(-13)


def test_tape_keeps_the_prices_before_the_current_midnight() -> None:
    tape = Tape(900)
    tape.observe(_trade("BUY", "0.40", T0 + timedelta(hours=23), 1))
    tomorrow = (T0 + timedelta(days=1)).date()
    assert tape.midnight_price(7, tomorrow) == Decimal("0.40")  # nothing seen on that day yet
    tape.observe(_trade("BUY", "0.45", T0 + timedelta(days=1, hours=1), 2))
    assert tape.midnight_price(7, tomorrow) == Decimal("0.40")
    assert tape.last_price(7) == Decimal("0.45")
    with pytest.raises(ValueError):
        tape.midnight_price(7, T0.date())


def test_the_tape_quotes_only_what_it_has_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tape's quote is the executor's over the fills observed so far: a taker's BUY is an ask,
    a maker's BUY of the complement at q an ask at 1 - q; levels before ``since`` are not read;
    a token not traded within the quote window (and the latency) is forgotten by the sweep."""
    from orderflow.backtest import tape as tape_module

    monkeypatch.setattr(tape_module, "_SWEEP_EVERY", 3)
    tape = Tape(900, latency=timedelta(seconds=8))
    assert tape.quote(7, "BUY", T0) is None
    tape.observe(_trade("BUY", "0.40", T0, 1), taker=True, complement=8)
    assert tape.quote(7, "BUY", T0) == Decimal("0.40")
    assert tape.quote(8, "SELL", T0) == Decimal("0.60")  # the mirror: a bid of NO at 0.60
    assert tape.quote(7, "SELL", T0) is None  # no bid seen
    # a maker buying NO at 0.55 a minute later: an ask of YES at 0.45, the latest one
    no_buy = replace(_trade("BUY", "0.55", T0 + timedelta(minutes=1), 2), token_id=8)
    tape.observe(no_buy, taker=False, complement=7)
    assert tape.quote(7, "BUY", T0) == Decimal("0.45")
    assert tape.quote(7, "BUY", T0 + timedelta(minutes=2)) is None  # nothing since then
    # an hour later the third fill sweeps both tokens' levels away (nothing in 30 min + 8 s)
    other = replace(_trade("BUY", "0.50", T0 + timedelta(hours=1), 3), token_id=9)
    tape.observe(other, taker=True)
    assert tape.quote(7, "BUY", T0) is None and tape.quote(8, "SELL", T0) is None
    assert tape.quote(9, "BUY", T0) == Decimal("0.50")
