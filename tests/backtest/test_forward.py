"""Forward test: scores as of a date against the edge each wallet realised after it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orderflow.backtest.engine import Scorer
from orderflow.backtest.forward import by_event, forward_test, realised_after
from orderflow.backtest.verdict import MarketResult, return_interval
from orderflow.signals.views import WalletView
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=5)
END = T0 + timedelta(days=20)
GOOD, BAD, MID = addr("good"), addr("bad"), addr("mid")


async def _history(pool: asyncpg.Pool) -> None:
    h = History()
    for i in range(12):
        m = h.market(f"m{i}")
        at = AS_OF + timedelta(hours=i + 1)
        h.trade(GOOD, m, 0, "BUY", "0.40", "100", at)  # YES wins: +0.60 a share
        h.trade(BAD, m, 1, "BUY", "0.50", "100", at)  # NO loses
        h.trade(MID, m, i % 2, "BUY", "0.50", "100", at)  # half and half
        # Not counted: before the date, a maker row, a market that never resolves.
        h.trade(BAD, m, 0, "BUY", "0.10", "1000", T0 + timedelta(hours=i))
        h.trade(BAD, m, 0, "BUY", "0.10", "1000", at, taker=False)
        h.resolve(m, 0, AS_OF + timedelta(days=3))
    open_market = h.market("open")
    h.trade(GOOD, open_market, 0, "BUY", "0.90", "1000", AS_OF + timedelta(hours=1))
    await h.store(pool)


async def scores(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
    assert as_of == AS_OF
    return {
        GOOD: WalletView(GOOD, 9.0, "WHALE"),
        MID: WalletView(MID, 5.0, "AVERAGE"),
        BAD: WalletView(BAD, 2.0, "DEGEN"),
    }


def whales(*wallets: str) -> Scorer:
    """A scorer that rates ``wallets`` WHALE (9.0) and nobody else, at any date."""

    async def rated(conn: asyncpg.Connection, as_of: datetime) -> Mapping[str, WalletView]:
        return {w: WalletView(w, 9.0, "WHALE") for w in wallets}

    return rated


async def test_realised_edge_after_the_date_only_taker_buys_of_resolved_markets(
    pool: asyncpg.Pool,
) -> None:
    await _history(pool)
    async with pool.acquire() as conn:
        realised = await realised_after(conn, AS_OF, END)
        result = await forward_test(conn, scores, as_of=AS_OF, end=END)
    good, bad, mid = realised[GOOD], realised[BAD], realised[MID]
    assert (good.buys, bad.buys, mid.buys) == (12, 12, 12)
    assert good.edge == pytest.approx(0.60 / 0.40)
    assert bad.edge == pytest.approx(-1.0)
    assert mid.edge == pytest.approx(0.0)
    assert result.wallets == 3 and result.spearman == pytest.approx(1.0)
    assert result.top_tier_wallets == 1
    assert result.top_tier.estimate == pytest.approx(1.5)
    assert result.others.estimate == pytest.approx(-0.5)


async def test_buys_at_or_after_their_markets_resolution_are_no_realised_edge(
    pool: asyncpg.Pool,
) -> None:
    """A taker BUY of the winner from stale orders once the market has resolved is taken with
    the outcome known (the reputation run voids it as no decision): it is no realised edge."""
    sniper = addr("sniper")
    h = History()
    for i in range(6):
        m = h.market(f"late{i}")
        resolved = AS_OF + timedelta(days=1, hours=i)
        h.resolve(m, 0, resolved)
        h.trade(sniper, m, 0, "BUY", "0.60", "100", resolved)  # the resolution's own second
        h.trade(sniper, m, 0, "BUY", "0.60", "100", resolved + timedelta(hours=1))
    before = h.market("before")
    h.trade(sniper, before, 0, "BUY", "0.50", "100", AS_OF + timedelta(hours=1))
    h.resolve(before, 1, AS_OF + timedelta(days=2))
    await h.store(pool)
    async with pool.acquire() as conn:
        realised = await realised_after(conn, AS_OF, END)
    assert realised[sniper].buys == 1  # only the buy before its market resolved
    assert realised[sniper].edge == pytest.approx(-1.0)


async def test_the_forward_intervals_resample_markets_not_wallets(pool: asyncpg.Pool) -> None:
    """Twelve top-tier wallets that all bought the winner of the same two markets are two
    outcomes, not twelve: drawn by wallet, the interval was [+100 %, +100 %], a PAID-looking
    certainty; drawn by market there are too few markets for an interval."""
    herd = [addr(f"herd-{i}") for i in range(12)]
    h = History()
    markets = [h.market("herd-a"), h.market("herd-b")]
    for w, whale in enumerate(herd):
        for k in range(5):
            at = AS_OF + timedelta(hours=1 + w, minutes=k)
            h.trade(whale, markets[k % 2], 0, "BUY", "0.50", "100", at)
    for m in markets:
        h.resolve(m, 0, AS_OF + timedelta(days=3))
    await h.store(pool)

    async with pool.acquire() as conn:
        result = await forward_test(conn, whales(*herd), as_of=AS_OF, end=END)
    assert result.top_tier_wallets == 12
    assert result.top_tier.estimate == pytest.approx(1.0)
    assert result.top_tier.verdict == "INCONCLUSIVE", result.top_tier.describe()
    assert result.top_tier.markets == 2 and "(2 markets;" in result.top_tier.describe()
    assert result.top_tier.low is None and result.top_tier.high is None


async def test_the_forward_intervals_cluster_by_resolution_day_as_the_verdict_does(
    pool: asyncpg.Pool,
) -> None:
    """The top tier's twelve markets: the six it won resolve on one day (one draw of whatever
    moved them), the six it lost on six days. The forward interval is the verdict's, clustered
    by the events' UTC resolution days; it drew the twelve as twelve independent outcomes."""
    whale = addr("day-whale")
    h = History()
    for i in range(12):
        m = h.market(f"day-{i}")
        won = i < 6
        h.trade(whale, m, 0, "BUY", "0.50", "100", AS_OF + timedelta(hours=1 + i))
        h.resolve(m, 0 if won else 1, AS_OF + timedelta(days=3 if won else i - 2, hours=i))
    await h.store(pool)

    async with pool.acquire() as conn:
        result = await forward_test(conn, whales(whale), as_of=AS_OF, end=END)
        events = await by_event(conn, AS_OF, END, [whale])
    won_day = (AS_OF + timedelta(days=3)).date().isoformat()
    assert sorted({str(m.day) for m in events.values() if m.pnl > 0}) == [won_day]
    assert len({m.day for m in events.values()}) == 7  # one day for the winners, six others
    alone = {k: MarketResult(m.pnl, m.staked) for k, m in events.items()}
    plain = return_interval(alone)
    assert result.top_tier == return_interval(events)
    assert result.top_tier.low is not None and plain.low is not None
    assert result.top_tier.high is not None and plain.high is not None
    assert result.top_tier.low < plain.low and result.top_tier.high > plain.high


async def test_a_forward_interval_of_favourites_is_never_narrower_than_no_edge_allows(
    pool: asyncpg.Pool,
) -> None:
    """A top-tier wallet that bought the favourite at 0.90 in twelve markets resolving on twelve
    days, and saw all twelve win: +11 % a dollar with no spread at all between the markets, so
    the interval was [+11 %, +11 %] — a PAID-looking certainty. Twelve favourites at 0.90 all
    win with probability 0.28 with no edge: the interval's standard error is never below what
    the entry prices imply with no edge (the verdict's floor, ``MarketResult.null_var``), and
    it takes zero in."""
    whale = addr("favourites")
    h = History()
    for i in range(12):
        m = h.market(f"fav-{i}")
        h.trade(whale, m, 0, "BUY", "0.90", "100", AS_OF + timedelta(hours=1 + i))
        h.resolve(m, 0, AS_OF + timedelta(days=1 + i))
    await h.store(pool)

    async with pool.acquire() as conn:
        result = await forward_test(conn, whales(whale), as_of=AS_OF, end=END)
        events = await by_event(conn, AS_OF, END, [whale])
    top = result.top_tier
    assert top.estimate == pytest.approx(1 / 9) and top.low is not None
    assert top.low < 0, top.describe("realised")
    # 100 shares at 0.90: a payoff of variance 100² x 0.9 x 0.1 with no edge, per market
    assert {round(m.null_var, 6) for m in events.values()} == {900.0}


async def test_taker_buys_at_no_price_are_no_buys(pool: asyncpg.Pool) -> None:
    """The chain emits fills of no shares or no collateral (stored at price 0) and wash pairs
    print at 1.00: no decision (``orderflow.signals.decisions.is_decision_row``), so no buy of
    the forward test. One real buy at 0.50 that lost, beside four rows at no price — no shares,
    free shares of the winner at 0, a print at 1.00 — is one buy, under ``min_buys``, at -100 %.
    Counted, the wallet had five buys and its free shares read as a gain on no stake."""
    printer = addr("printer")
    h = History()
    m = h.market("no-price")
    at = AS_OF + timedelta(hours=1)
    h.trade(printer, m, 1, "BUY", "0.50", "100", at)  # NO loses: -50
    h.trade(printer, m, 0, "BUY", "0", "0", at + timedelta(minutes=1))  # no shares
    h.trade(printer, m, 0, "BUY", "0", "100", at + timedelta(minutes=2))  # no collateral
    h.trade(printer, m, 0, "BUY", "0", "0", at + timedelta(minutes=3))
    h.trade(printer, m, 0, "BUY", "1.00", "100", at + timedelta(minutes=4))  # a wash print
    h.resolve(m, 0, AS_OF + timedelta(days=3))
    await h.store(pool)

    async with pool.acquire() as conn:
        realised = (await realised_after(conn, AS_OF, END))[printer]
        result = await forward_test(conn, whales(printer), as_of=AS_OF, end=END)
        events = await by_event(conn, AS_OF, END, [printer])
    assert (realised.buys, realised.pnl, realised.staked) == (1, -50.0, 50.0), realised
    assert result.wallets == 0
    assert [(e.pnl, e.staked) for e in events.values()] == [(-50.0, 50.0)]


async def test_a_decision_split_over_makers_is_one_buy(pool: asyncpg.Pool) -> None:
    """A leader's taker order matched against three makers is three taker rows of one
    transaction, and one decision (``orderflow.signals.decisions.decision_key``): one buy of the
    forward test, its stake and P&L the rows' total. Three decisions so split read as nine buys,
    over ``min_buys`` (5): a wallet with three bets was ranked as if it had made nine."""
    splitter = addr("splitter")
    h = History()
    for i in range(3):
        m = h.market(f"split{i}")
        at = AS_OF + timedelta(hours=i + 1)
        for _ in range(3):  # one order, three makers: three taker rows of one transaction
            h.trade(splitter, m, 0, "BUY", "0.40", "100", at, tx=i)
        h.resolve(m, 0, AS_OF + timedelta(days=3))
    await h.store(pool)

    async with pool.acquire() as conn:
        realised = (await realised_after(conn, AS_OF, END))[splitter]
        result = await forward_test(conn, whales(splitter), as_of=AS_OF, end=END)
    # nine rows of 100 shares at 0.40 that won: +0.60 a share
    assert (realised.buys, realised.pnl, realised.staked) == (3, 540.0, 360.0), realised
    assert result.wallets == 0  # three buys, under min_buys
