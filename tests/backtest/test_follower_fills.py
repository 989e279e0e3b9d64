"""The follower meets the book as it stands ``latency`` after its leader: depth, impact, gates.

The book is what the chain reveals: maker fills of later trades in the token. Each test builds
a small history by hand and checks the fill the follower gets, level by level.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import asyncpg

from orderflow.backtest import BacktestOptions, BacktestReport, run_backtest
from orderflow.backtest.liquidity import ChainDepth
from orderflow.backtest.report import render
from orderflow.execution.depth import Level, best_price, fill_resting
from orderflow.signals.views import WalletView
from orderflow.strategy.settings import StrategySettings
from tests.backtest.factory import History, addr, token_of

T0 = datetime(2026, 5, 1, tzinfo=UTC)
T = T0 + timedelta(hours=1)  # the leader's fill
WHALE = addr("whale")
NOBODY = addr("nobody")
SETTINGS = StrategySettings()  # 20 bps slippage, max price move 0.03, max signal age 120 s


async def whale_scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    return {WHALE: WalletView(WHALE, 9.0, "WHALE", edge=0.30, edge_se=0.01, resolved_buys=50)}


async def _run(
    pool: asyncpg.Pool,
    settings: StrategySettings = SETTINGS,
    **options: float,
) -> BacktestReport:
    opts = BacktestOptions(start=T0, end=T0 + timedelta(days=1), random_share=1.0, **options)
    async with pool.acquire() as conn:
        report = await run_backtest(conn, settings, opts, whale_scores)
    assert report is not None
    return report


def _s(secs: float) -> timedelta:
    return timedelta(seconds=secs)


async def test_latency_moves_the_quote_and_the_price_moved_gate_fires(pool: asyncpg.Pool) -> None:
    """The decision prices its order at the quote the fills it can know show (the executor's:
    stored by the listener, the visibility delay of 7 s before the decision); the offers revealed
    after it fill the order up to that limit, never price it."""
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.42", "10000", T + _s(2))  # taken by someone in the next block
    h.ask(m, 0, "0.45", "10000", T + _s(16))
    h.ask(m, 0, "0.45", "10000", T + _s(40))
    await h.store(pool)

    # 2 s: the quote is the whale's own 0.40, the limit 0.41 (+ 20 bps, up to the tick): the
    # offers revealed later are above it. (It used to be priced at the 0.42 revealed 3 s after
    # the decision, and filled there: a price the executor could not have known.)
    fast = (await _run(pool, latency_secs=2)).result.runs[0].book.signals
    assert [(s.status, s.reason, s.time) for s in fast] == [("SKIPPED", "no_liquidity", T + _s(2))]
    assert fast[0].trigger_time == T and fast[0].limit_price == Decimal("0.41")

    # 10 s: the 0.42 offer taken at 2 s, stored at 9 s, is the quote; the limit 0.43 meets
    # only 0.45 later.
    mid = (await _run(pool, latency_secs=10)).result.runs[0].book.signals
    assert [(s.status, s.reason, s.limit_price) for s in mid] == [
        ("SKIPPED", "no_liquidity", Decimal("0.43"))
    ]

    # 25 s: the quote is 0.45 (taken at 16 s, stored at 23 s), 0.05 above the whale's price:
    # price_moved.
    slow = (await _run(pool, latency_secs=25)).result.runs[0].book.signals
    assert [(s.status, s.reason) for s in slow] == [("SKIPPED", "price_moved")]
    # With a looser gate it fills, at the higher price, from the offer revealed after it.
    loose = SETTINGS.model_copy(update={"max_price_move": 0.10})
    slow = (await _run(pool, loose, latency_secs=25)).result.runs[0].book.signals
    assert [(s.status, s.price, s.limit_price) for s in slow] == [
        ("EXECUTED", Decimal("0.45"), Decimal("0.46"))
    ]


async def test_stale_gate_fires_when_the_latency_exceeds_the_signal_age(pool: asyncpg.Pool) -> None:
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.40", "10000", T + _s(300))
    await h.store(pool)
    report = await _run(pool, latency_secs=180)  # max_signal_age_secs is 120
    for run in report.result.runs:  # the strategy and both baselines: the same gate
        assert [(s.status, s.reason) for s in run.book.signals] == [("EXPIRED", "stale")]
    assert report.strategy.executed == 0


async def test_no_fill_when_nothing_trades_within_the_window(pool: asyncpg.Pool) -> None:
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.40", "10000", T + timedelta(minutes=40))
    await h.store(pool)
    short = await _run(pool, book_window_secs=1800)
    assert [(s.status, s.reason) for s in short.result.runs[0].book.signals] == [
        ("SKIPPED", "no_liquidity")
    ]
    assert short.strategy.skip_reasons == {"no_liquidity": 1}
    long = await _run(pool, book_window_secs=3600)
    assert [s.status for s in long.result.runs[0].book.signals] == ["EXECUTED"]
    # A window given explicitly is not the strategy's order life (5 min): the report says so.
    assert long.window_differs
    assert "within 1 h (--book-window), not the 5 min the strategy's orders live" in render(long)


async def test_the_window_is_the_strategy_s_order_life(pool: asyncpg.Pool) -> None:
    """An ask revealed 20 minutes after the decision: an order living 5 minutes (the executor's
    for this strategy) is gone by then, one living 30 minutes meets it. The window used to be
    the backtest's 30 minutes whatever the strategy's orders lived."""
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.40", "10000", T + _s(8) + timedelta(minutes=20))
    await h.store(pool)
    short = await _run(pool, SETTINGS.model_copy(update={"order_ttl_secs": 300}), latency_secs=8)
    assert [(s.status, s.reason) for s in short.result.runs[0].book.signals] == [
        ("SKIPPED", "no_liquidity")
    ]
    assert short.result.execution.window == timedelta(minutes=5)
    assert not short.window_differs
    assert "live 5 min (the strategy's order_ttl_secs)" in render(short)
    long = await _run(pool, SETTINGS.model_copy(update={"order_ttl_secs": 1800}), latency_secs=8)
    assert [s.status for s in long.result.runs[0].book.signals] == ["EXECUTED"]


async def test_an_order_walks_the_depth_paying_each_level_and_the_taker_fee(
    pool: asyncpg.Pool,
) -> None:
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.40", "100", T + _s(30))
    h.ask(m, 0, "0.41", "100", T + _s(40))  # each met when it comes (a resting order's fills)
    h.ask(m, 0, "0.42", "10000", T + _s(50))
    h.ask(m, 0, "0.48", "10000", T + _s(60))
    await h.store(pool)
    settings = SETTINGS.model_copy(update={"paper_slippage_bps": 1000.0, "taker_fee_rate": 0.03})
    report = await _run(pool, settings)
    # follow-all: 100 USDC at a limit of 0.40 * 1.10 = 0.44, fee included in the all-in price.
    signal = report.result.runs[1].book.signals[0]
    limit = Decimal("0.44")
    shares = (Decimal(100) / (limit + Decimal("0.03") * limit * (1 - limit))).quantize(
        Decimal("0.01"), rounding=ROUND_DOWN
    )
    takes = [(Decimal("0.40"), Decimal(100)), (Decimal("0.41"), Decimal(100))]
    takes.append((Decimal("0.42"), shares - 200))  # never reaches 0.48 (above the limit)
    usdc = sum((p * q for p, q in takes), Decimal(0))
    fee = sum(
        (
            (q * Decimal("0.03") * p * (1 - p)).quantize(Decimal("0.00001"), ROUND_DOWN)
            for p, q in takes
        ),
        Decimal(0),
    )
    assert signal.limit_price == limit
    assert (signal.shares, signal.size_usdc, signal.fee, signal.levels) == (shares, usdc, fee, 3)
    assert signal.price == (usdc / shares).quantize(Decimal("0.000001"))
    position = report.result.runs[1].book.open[signal.token_id].position
    assert position.cost_basis == usdc + fee


def test_own_impact_raises_the_next_fill() -> None:
    """What a follower's order took of a level is not there for its next order (its own
    footprint, ``consumed``): orders resting at once meet the same revealed levels."""
    # Without its own first order, the same second order would have found the 0.40 offer.
    levels = [
        Level(("a", 1), T + _s(600), Decimal("0.40"), Decimal(300)),
        Level(("b", 1), T + _s(700), Decimal("0.41"), Decimal(100000)),
    ]
    consumed: dict[tuple[str, int], Decimal] = {}
    assert best_price(levels, "BUY", consumed) == Decimal("0.40")
    q, lim = Decimal("0.40"), Decimal("0.41")
    first = fill_resting(levels, [], "BUY", Decimal(250), lim, q, consumed)
    assert [(t.price, t.shares) for t in first] == [(Decimal("0.40"), Decimal(250))]
    assert consumed == {("a", 1): Decimal(250)}
    second = fill_resting(levels, [], "BUY", Decimal(100), lim, q, consumed)
    assert [(t.price, t.shares) for t in second] == [
        (Decimal("0.40"), Decimal(50)),
        (Decimal("0.41"), Decimal(50)),
    ]
    assert best_price(levels, "BUY", consumed) == Decimal("0.41")


async def test_maker_rows_are_never_copied_and_one_trade_is_followed_once(
    pool: asyncpg.Pool,
) -> None:
    h = History()
    m = h.market("m")
    # The whale's resting order was hit: a maker row, not a decision (not even a whale's).
    h.trade(WHALE, m, 0, "BUY", "0.40", "5000", T, taker=False)
    # NOBODY's taker BUY of YES, matched (mint) against a maker buying NO at 0.55.
    h.trade(NOBODY, m, 0, "BUY", "0.45", "1000", T + _s(60))
    h.trade(addr("mm"), m, 1, "BUY", "0.55", "1000", T + _s(60), taker=False)
    # Liquidity on both sides later on.
    h.ask(m, 0, "0.45", "10000", T + _s(120))
    h.ask(m, 1, "0.56", "10000", T + _s(120))
    await h.store(pool)
    report = await _run(pool)
    strategy, follow_all, follow_random = (r.book.signals for r in report.result.runs)
    assert strategy == []  # the whale only made; NOBODY is not scored
    for signals in (follow_all, follow_random):
        assert [(s.wallet, s.token_id, s.status) for s in signals] == [
            (NOBODY, signals[0].token_id, "EXECUTED")
        ]
    yes = follow_all[0].token_id
    assert {s.token_id for s in follow_all} == {yes}  # never the NO leg of the same trade


async def test_offers_better_than_the_leaders_price_were_not_there_for_us(
    pool: asyncpg.Pool,
) -> None:
    """An ask below the whale's price would have filled the whale first: posted later (e.g. a
    wash ring's pre-arranged cross at 0.20), not there to take on arrival; the follower takes the
    0.41 offer, which fills it (posted while the order still rested, the cross would have met it
    at its limit: tests/backtest/test_adverse_fills.py)."""
    h = History()
    m = h.market("m")
    h.trade(WHALE, m, 0, "BUY", "0.40", "1000", T)
    h.ask(m, 0, "0.20", "10000", T + _s(30))
    h.ask(m, 0, "0.41", "10000", T + _s(60))
    await h.store(pool)
    signals = (await _run(pool)).result.runs[1].book.signals  # follow-all
    assert [(s.status, s.price, s.levels) for s in signals] == [("EXECUTED", Decimal("0.41"), 1)]


async def test_the_book_includes_the_complements_makers_at_one_minus_their_price(
    pool: asyncpg.Pool,
) -> None:
    """A maker buying NO at 0.59 is an ask of YES at 0.41 (matched by minting); a maker selling
    NO at 0.45 is a bid of YES at 0.55 (by merging). Read in small chunks or one big one alike."""
    h = History()
    m = h.market("m")
    yes, no = token_of(m, 0), token_of(m, 1)
    h.trade(addr("mm1"), m, 1, "BUY", "0.59", "1000", T + _s(30), taker=False)
    h.trade(addr("mm2"), m, 1, "SELL", "0.45", "700", T + _s(90), taker=False)
    h.ask(m, 0, "0.42", "300", T + _s(150))
    h.bid(m, 0, "0.54", "200", T + _s(210))
    # A second market for the replay below: the whale's YES, then a maker buying NO at 0.59.
    m2 = h.market("m2")
    h.trade(WHALE, m2, 0, "BUY", "0.40", "1000", T)
    h.trade(addr("mm1"), m2, 1, "BUY", "0.59", "100000", T + _s(30), taker=False)
    await h.store(pool)
    windows = [(T + _s(10 * i), T + _s(10 * i + 200)) for i in range(20)]
    async with pool.acquire() as conn:
        for chunk in (timedelta(seconds=15), timedelta(hours=6)):
            depth = ChainDepth(chunk)
            asks = [await depth.levels(conn, yes, "BUY", a, b) for a, b in windows]
            bids = [await depth.levels(conn, yes, "SELL", a, b) for a, b in windows]
            no_asks = await depth.levels(conn, no, "BUY", T, T + _s(300))
            assert [(lv.price, lv.shares) for lv in asks[0]] == [
                (Decimal("0.41"), Decimal(1000)),
                (Decimal("0.42"), Decimal(300)),
            ]
            assert [lv.price for lv in asks[3]] == [Decimal("0.42")]  # (T+30 s, T+230 s]
            assert [(lv.price, lv.shares) for lv in bids[0]] == [(Decimal("0.55"), Decimal(700))]
            assert [lv.price for lv in bids[8]] == [Decimal("0.55"), Decimal("0.54")]
            assert [lv.price for lv in no_asks] == [Decimal("0.45"), Decimal("0.46")]
            if chunk == timedelta(seconds=15):
                small = (asks, bids)
            else:
                assert (asks, bids) == small
    # In a replay: the whale's YES at 0.40 fills against the minted 0.41 offer.
    signals = (await _run(pool)).result.runs[1].book.signals
    assert [(s.status, s.price) for s in signals if s.market_id == m2] == [
        ("EXECUTED", Decimal("0.41"))
    ]


async def test_a_false_complement_is_no_mirror_of_the_book(pool: asyncpg.Pool) -> None:
    """A token registry row naming another market's token (or the token itself) as the
    complement: that token's makers are not this book's levels (the paper exchange refuses the
    same mapping). Before, a maker buying the other market's token at 0.59 was an ask of YES at
    0.41."""
    h = History()
    m, other = h.market("m"), h.market("other")
    yes = token_of(m, 0)
    h.trade(addr("mm1"), other, 1, "BUY", "0.59", "1000", T + _s(30), taker=False)
    h.trade(addr("mm2"), m, 0, "BUY", "0.45", "500", T + _s(60), taker=False)
    await h.store(pool)
    async with pool.acquire() as conn:
        for wrong in (token_of(other, 1), yes):
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(yes),
                Decimal(wrong),
            )
            await conn.execute(
                "UPDATE orderflow_tokens SET complement_token_id = $2 WHERE token_id = $1",
                Decimal(token_of(other, 1)),
                Decimal(yes),
            )
            depth = ChainDepth()
            asks = await depth.levels(conn, yes, "BUY", T, T + _s(300))
            assert asks == []
            # its own makers still are: a bid of YES at 0.45
            bids = await depth.levels(conn, yes, "SELL", T, T + _s(300))
            assert [lv.price for lv in bids] == [Decimal("0.45")]
