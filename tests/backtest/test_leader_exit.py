"""The backtest follows its leader out as the executor does: never in after the leader left, the
CLOB's minimum sizes, an exit it must refuse held to resolution."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, BacktestReport, run_backtest
from orderflow.backtest.book import SignalRecord
from orderflow.demo.store import save_run
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the leader's buy
WHALE = addr("whale")
# 8 s latency by default; 20 bps slippage; min order 5 shares; orders living 30 min (the book
# window): the whale's resting offer 20 min after its second buy is there to meet.
SETTINGS = StrategySettings(order_ttl_secs=1800)


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def _run(pool: asyncpg.Pool, **options: object) -> BacktestReport:
    opts = BacktestOptions(
        start=T0, end=T0 + timedelta(days=3), step_secs=86_400, random_share=1.0, **options
    )
    async with pool.acquire() as conn:
        report = await run_backtest(conn, SETTINGS, opts, whale_scores)
    assert report is not None
    return report


def _signals(report: BacktestReport, run: int) -> list[tuple[str, str, str]]:
    signals: list[SignalRecord] = report.result.runs[run].book.signals
    return [(s.side, s.status, s.reason) for s in signals]


async def test_a_buy_its_leader_sold_within_the_latency_is_not_followed(
    pool: asyncpg.Pool,
) -> None:
    """The whale bought and sold 3 s later; our order would reach the market 8 s after its buy.
    The executor decides on the buy when it stores it (~7 s after it), before the sale's block
    is stored (~10 s): it follows, and cancels the order a latency after the sale (the
    leader-exit cancel), before any ask came — SKIPPED ``leader_exited``, nothing held. (The
    backtest once bought it and sold it again on the leader's sell, a round trip live never
    makes; then skipped it at the decision, having read the sale's block before it was
    stored.)"""
    h = History()
    market = h.market("in-and-out")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.trade(WHALE, market, 0, "SELL", "0.40", "500", T + timedelta(seconds=3))
    h.ask(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    h.bid(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    h.resolve(market, 0, T0 + timedelta(days=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0) == [("BUY", "SKIPPED", "leader_exited")]
    # The baselines follow through the same gates: only whom they follow differs.
    assert _signals(report, 1) == [("BUY", "SKIPPED", "leader_exited")]
    assert report.strategy.positions_open == report.strategy.positions_closed == 0


async def test_a_buy_sold_after_our_order_went_out_is_followed_and_exited(
    pool: asyncpg.Pool,
) -> None:
    """A sell after our decision time is an exit, not a reason to skip the entry. (The ask that
    fills the entry comes before the sale: after it, what rests is cancelled, test_fill_time.)"""
    h = History()
    market = h.market("later")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "5000", T + timedelta(seconds=20))
    h.trade(WHALE, market, 0, "SELL", "0.40", "500", T + timedelta(seconds=30))
    h.bid(market, 0, "0.40", "5000", T + timedelta(minutes=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("SELL", "EXECUTED", "exit_with_leader"),
    ]


async def test_baselines_do_not_buy_under_the_clobs_one_dollar_minimum(
    pool: asyncpg.Pool,
) -> None:
    """A baseline stake of $0.90 at 0.11 is 8.18 shares: above the 5-share minimum, under the
    $1 the CLOB requires of a marketable BUY. The executor refuses it (``below_min_size``); the
    baselines' own copy of the rule checked shares only and bought it."""
    h = History()
    market = h.market("cheap")
    h.trade(WHALE, market, 0, "BUY", "0.10", "5000", T)
    h.ask(market, 0, "0.10", "5000", T + timedelta(minutes=1))
    await h.store(pool)
    report = await _run(pool, baseline_stake_usd=Decimal("0.90"))
    for run in (1, 2):
        assert _signals(report, run) == [("BUY", "SKIPPED", "below_min_size")]


async def test_an_exit_below_the_minimum_size_is_held_to_resolution(pool: asyncpg.Pool) -> None:
    """Only 3 shares were offered to the entry; the leader sells: the executor sends no exit
    the CLOB must refuse (``exit_below_min_size``) and holds the 3 shares to resolution."""
    h = History()
    market = h.market("thin")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "3", T + timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", T + timedelta(hours=5))
    h.bid(market, 0, "0.55", "5000", T + timedelta(hours=5, minutes=1))
    h.resolve(market, 0, T0 + timedelta(days=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("SELL", "SKIPPED", "exit_below_min_size"),
    ]
    entry = report.result.runs[0].book.signals[0]
    assert entry.shares == 3 and entry.close_reason == "resolved"
    assert entry.pnl == 3 * (Decimal(1) - Decimal("0.40"))


async def test_a_leader_leaving_through_a_resting_order_is_exited(pool: asyncpg.Pool) -> None:
    """The whale bought as taker; half an hour later a buyer hits the whale's resting SELL
    order: the whale appears only in that fill's maker row. The executor exits on any stored
    SELL row of the leader (``wallet_address``: its own order, maker or taker); the backtest
    offered followers taker rows only and held the position to resolution. A maker SELL whose
    *taker* is the whale (the whale buying more) is not the whale selling."""
    h = History()
    market = h.market("resting-exit")
    buyer = addr("buyer")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    # The whale buys again, hitting a market maker's ask (the maker row names it as taker).
    h.trade(WHALE, market, 0, "BUY", "0.45", "300", T + timedelta(minutes=10))
    h.trade(addr("mm"), market, 0, "SELL", "0.45", "300", T + timedelta(minutes=10),
            taker=False, taker_address=WHALE)  # fmt: skip
    # The buyer takes the whale's resting offer: the buyer's taker row, the whale's maker row.
    sold = T + timedelta(minutes=30)
    h.trade(buyer, market, 0, "BUY", "0.45", "500", sold)
    h.trade(WHALE, market, 0, "SELL", "0.45", "500", sold, taker=False, taker_address=buyer)
    h.bid(market, 0, "0.45", "5000", sold + timedelta(minutes=1))
    h.resolve(market, 1, T0 + timedelta(days=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("BUY", "SKIPPED", "position_exists"),
        ("SELL", "EXECUTED", "exit_with_leader"),
    ]
    entry, _, exit_ = report.result.runs[0].book.signals
    # Triggered by the whale's maker row, decided a latency later, sold into the bid.
    assert exit_.wallet == WHALE and exit_.trigger_time == sold
    assert exit_.time == sold + report.result.execution.latency
    assert exit_.price == Decimal("0.45") and exit_.shares == entry.shares
    assert entry.close_reason == "exit" and report.strategy.positions_open == 0
    assert entry.pnl == entry.shares * (Decimal("0.45") - Decimal("0.40"))
    # The baselines make no exits at all, on a taker's sell or a maker's: held to resolution.
    for run in (1, 2):
        signals = report.result.runs[run].book.signals
        assert [s.side for s in signals] == ["BUY"] * len(signals)
        assert signals[0].status == "EXECUTED" and signals[0].close_reason == "resolved"


async def test_a_buy_its_leader_sold_through_a_resting_order_is_not_followed(
    pool: asyncpg.Pool,
) -> None:
    """3 s after its buy the whale's resting SELL order is hit: stored after the buy, it is the
    leader's sale for the executor's leader-exit cancel (any SELL row of the wallet), so the
    entry, ordered before the sale was stored, is cancelled unfilled — SKIPPED ``leader_exited``
    by the strategy and the baselines alike. The makers the whale's own buy hit (SELL rows naming
    the whale as taker) are not the whale selling."""
    h = History()
    left, stayed = h.market("left-through-a-resting-order"), h.market("stayed")
    h.trade(WHALE, left, 0, "BUY", "0.40", "500", T)
    h.trade(WHALE, left, 0, "SELL", "0.40", "500", T + timedelta(seconds=3), taker=False)
    h.ask(left, 0, "0.40", "5000", T + timedelta(minutes=1))
    later = T + timedelta(hours=2)
    h.trade(WHALE, stayed, 0, "BUY", "0.40", "500", later)
    h.trade(addr("mm"), stayed, 0, "SELL", "0.40", "500", later, taker=False, taker_address=WHALE)
    h.ask(stayed, 0, "0.40", "5000", later + timedelta(minutes=1))
    await h.store(pool)
    report = await _run(pool)
    for run in (0, 1, 2):
        assert _signals(report, run) == [
            ("BUY", "SKIPPED", "leader_exited"),
            ("BUY", "EXECUTED", "accepted"),
        ]


async def test_a_buy_left_through_the_complement_within_the_latency_is_not_followed(
    pool: asyncpg.Pool,
) -> None:
    """The whale bought YES and, 3 s later, NO of the same market (the pair merges into
    collateral: a sale of YES). The executor's YES order, sent before the NO buy was stored, is
    cancelled by it unfilled: SKIPPED ``leader_exited`` (the leader-exit cancel reads a BUY of
    the complement as the sale it is); the backtest's tape knew only SELLs and followed it, into
    a position its leader had left."""
    h = History()
    market = h.market("merged")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.trade(WHALE, market, 1, "BUY", "0.60", "10", T + timedelta(seconds=3))
    h.ask(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    h.resolve(market, 0, T0 + timedelta(days=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0)[0] == ("BUY", "SKIPPED", "leader_exited")
    assert report.strategy.positions_open == report.strategy.positions_closed == 0


async def test_a_leader_buying_the_complement_after_our_entry_is_exited_with(
    pool: asyncpg.Pool,
) -> None:
    """The whale's NO buy after our entry is its leaving: the backtest exits YES at the bid, as
    the executor does. The executor decides the NO buy as an entry too, in the same pass against
    the book before the exit's fill, where YES is held: SKIPPED ``position_exists``, recorded.
    (The backtest made no entry signal; one decided after the exit's fill would have bought NO.)
    The entry is filled by an ask before the NO buy (after it, what rests is cancelled)."""
    h = History()
    market = h.market("flipped")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "5000", T + timedelta(seconds=20))
    h.trade(WHALE, market, 1, "BUY", "0.60", "500", T + timedelta(seconds=30))
    h.bid(market, 0, "0.40", "5000", T + timedelta(minutes=2))
    await h.store(pool)
    report = await _run(pool)
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("SELL", "EXECUTED", "exit_with_leader"),
        ("BUY", "SKIPPED", "position_exists"),
    ]
    assert report.strategy.positions_open == 0


async def test_a_leader_buying_the_complement_of_dust_is_followed_into_it(
    pool: asyncpg.Pool,
) -> None:
    """3 shares of YES held (minimum 5): the whale's YES sale is not followed out
    (``exit_below_min_size``), the dust is held to resolution. The whale then buys NO: the
    executor decides that BUY twice — the exit of YES (SKIPPED again) and an entry into NO, which
    dust does not refuse (tests/execution/test_complement_entry.py: ('BUY', NO, 'EXECUTED')). The
    backtest took the BUY as the exit alone and never bought NO."""
    h = History()
    market = h.market("dust-flip")
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "3", T + timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", T + timedelta(hours=5))
    h.bid(market, 0, "0.55", "5000", T + timedelta(hours=5, minutes=1))
    h.trade(WHALE, market, 1, "BUY", "0.45", "500", T + timedelta(hours=6))
    h.ask(market, 1, "0.45", "5000", T + timedelta(hours=6, minutes=1))
    h.resolve(market, 1, T0 + timedelta(days=2))
    await h.store(pool)
    report = await _run(pool)
    signals = report.result.runs[0].book.signals
    got = [(s.side, s.token_id == signals[0].token_id, s.status, s.reason) for s in signals]
    assert got == [
        ("BUY", True, "EXECUTED", "accepted"),
        ("SELL", True, "SKIPPED", "exit_below_min_size"),
        ("SELL", True, "SKIPPED", "exit_below_min_size"),
        ("BUY", False, "EXECUTED", "accepted"),
    ], got
    entry = signals[3]
    assert entry.shares > 0 and entry.close_reason == "resolved" and entry.pnl is not None
    assert entry.pnl > 0  # NO won
    assert signals[0].pnl == -3 * Decimal("0.40")  # the dust, held to resolution, lost


FADING = StrategySettings(order_ttl_secs=1800, enable_degen_fading=True)
DAY2 = T0 + timedelta(days=1)


async def whale_turned_degen(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    """The whale, scored a whale on the first day and a degen from the second on."""
    if as_of < DAY2:
        return await whale_scores(conn, as_of)
    return {WHALE: WalletView(WHALE, 1.0, "DEGEN", edge=-0.30, edge_se=0.01, resolved_buys=50)}


async def test_a_leader_panic_selling_dust_is_exited_and_faded(pool: asyncpg.Pool) -> None:
    """The position's leader, a degen by now, panic-sells the token held as dust. The executor
    reads that SELL as an exit (``exits_of``: SKIPPED ``exit_below_min_size``) and as a fade
    candidate (``may_trigger``), decided in one pass against the book before the exit, where
    dust refuses no entry. The backtest offered the SELL to the exit alone: no fade."""
    h = History()
    market = h.market("dust-fade")
    other = addr("other")
    h.trade(WHALE, market, 0, "BUY", "0.50", "500", T)
    h.ask(market, 0, "0.50", "3", T + timedelta(minutes=1))
    sold = DAY2 + timedelta(hours=1)
    h.trade(other, market, 0, "BUY", "0.60", "500", sold - timedelta(minutes=10))
    h.trade(other, market, 0, "BUY", "0.51", "500", sold - timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.50", "500", sold)
    h.ask(market, 0, "0.51", "5000", sold + timedelta(minutes=1))
    await h.store(pool)
    opts = BacktestOptions(start=T0, end=T0 + timedelta(days=3), step_secs=86_400)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, FADING, opts, whale_turned_degen)
    assert report is not None
    signals = report.result.runs[0].book.signals
    got = [(s.signal_type, s.side, s.status, s.reason) for s in signals]
    assert got == [
        ("FOLLOW_WHALE", "BUY", "EXECUTED", "accepted"),
        ("FOLLOW_WHALE", "SELL", "SKIPPED", "exit_below_min_size"),
        ("FADE_DEGEN", "BUY", "EXECUTED", "accepted"),
    ], got


async def test_an_exit_that_left_the_position_open_is_tried_again(pool: asyncpg.Pool) -> None:
    """The whale sells; the bids within our exit's life take 10 shares of the position. The
    executor's exit expires partly filled and is tried again once it has ended, after the
    pause (``Trader.late_exits``, ``exit_due``), until the position is sold; the backtest held
    the rest to the end."""
    h = History()
    market = h.market("thin-bids")
    sold = T + timedelta(hours=5)
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", sold)
    h.bid(market, 0, "0.55", "10", sold + timedelta(minutes=1))
    h.bid(market, 0, "0.55", "5000", sold + timedelta(minutes=40))  # after the order's 30 min
    await h.store(pool)
    report = await _run(pool)
    signals = report.result.runs[0].book.signals
    assert _signals(report, 0) == [
        ("BUY", "EXECUTED", "accepted"),
        ("SELL", "EXECUTED", "exit_with_leader"),
        ("SELL", "EXECUTED", "exit_with_leader"),
    ]
    first, again = signals[1], signals[2]
    assert first.shares == 10
    latency = timedelta(seconds=8.008)
    # once the first order's life (30 min) has ended, after the first pause (5 s)
    assert again.time == sold + latency + timedelta(minutes=30, seconds=5)
    assert again.trigger_time == sold and again.shares == signals[0].shares - 10
    assert report.strategy.positions_open == 0
    # Stored as the executor stores them: the same sale's exit, attempt 0 then 1 (the demo's
    # store kept the first alone: one signal key).
    async with pool.acquire() as conn:
        run = report.result.runs[0]
        await save_run(conn, "demo", SETTINGS, run, 137, report.result.last_prices)
        rows = await conn.fetch(
            "SELECT side, attempt FROM orderflow_signals WHERE strategy = 'demo' ORDER BY id"
        )
    assert [(r["side"], r["attempt"]) for r in rows] == [("BUY", 0), ("SELL", 0), ("SELL", 1)]


async def test_no_exit_is_made_while_one_rests(pool: asyncpg.Pool) -> None:
    """The whale sells twice, 10 minutes apart; the first exit sold 10 shares and rests for the
    rest. The executor makes no exit of a token whose exit is under way (``exits_of``): the
    second sell exits nothing; what the first left is tried again when it has ended. The
    backtest sent a second exit at once."""
    h = History()
    market = h.market("two-sells")
    sold = T + timedelta(hours=5)
    h.trade(WHALE, market, 0, "BUY", "0.40", "500", T)
    h.ask(market, 0, "0.40", "5000", T + timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", sold)
    h.bid(market, 0, "0.55", "10", sold + timedelta(minutes=1))
    h.trade(WHALE, market, 0, "SELL", "0.55", "500", sold + timedelta(minutes=10))
    h.bid(market, 0, "0.55", "5000", sold + timedelta(minutes=35))
    await h.store(pool)
    report = await _run(pool)
    signals = report.result.runs[0].book.signals
    assert [(s.side, s.status, s.trigger_time) for s in signals[1:]] == [
        ("SELL", "EXECUTED", sold),
        ("SELL", "EXECUTED", sold),  # the first sale's exit, tried again; none for the second
    ]
    assert report.strategy.positions_open == 0
