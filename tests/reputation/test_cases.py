"""Issue 11's cases, each built as fills through the listener's import path and scored by the run.

Every test builds a small world (markets whose price converges to the truth, market makers on the
other side of every taker, a background of unskilled takers), adds the case's wallets, imports
the raw logs with ``ingest_logs`` (what ``orderflow listen --from-file`` does) and runs
``run_reputation`` (what ``orderflow reputation run`` does).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest.scoring import wallet_view
from orderflow.reputation import ReputationSettings, compute_scores, run_reputation
from orderflow.reputation.explain import render
from orderflow.reputation.per_wallet import wallet_report
from orderflow.reputation.wallet_sql import WALLET_STATS
from orderflow.signals.queries import wallet_view_from_stats, wallet_views
from orderflow.signals.rules import classify
from orderflow.signals.views import MarketView, TradeView
from orderflow.strategy.settings import StrategySettings
from tests.reputation.population import (
    World,
    edge_taker,
    lucky,
    noise_taker,
    penny_picker,
    wash_pair,
)

TOP = ("WHALE", "SMART")


async def stats(pool: asyncpg.Pool, who: str) -> asyncpg.Record:
    row = await pool.fetchrow(WALLET_STATS, who)  # as `orderflow wallet` reads it
    assert row is not None, who
    return row


def background(w: World, wallets: int = 15, events: int = 30) -> list[str]:
    out = []
    for _ in range(wallets):
        who = w.new_wallet()
        noise_taker(w, who, events)
        out.append(who)
    return out


async def test_zero_edge_penny_pickers_are_flagged_and_never_top(pool: asyncpg.Pool) -> None:
    w = World(seed=11, favourites=80)
    background(w)
    pickers = [w.new_wallet() for _ in range(8)]
    for who in pickers:
        penny_picker(w, who, 40)
    await w.finish(pool)
    await run_reputation(pool)
    for who in pickers:
        s = await stats(pool, who)
        assert "PENNY_PICKER" in s["flags"]
        assert s["trader_tier"] not in TOP and float(s["reputation_score"]) < 5.5
        assert s["events_resolved"] >= 30
        # the outcome yardstick's null variance: no tiny standard error from an unbroken run
        assert s["factors"]["posterior"]["outcome_se"] > 0.02
    # Without the flag the posterior alone keeps them out of the top tiers.
    await run_reputation(pool, settings=ReputationSettings(penny_share_flag=1.0))
    for who in pickers:
        s = await stats(pool, who)
        assert s["flags"] == [] and s["trader_tier"] not in TOP, dict(s)


async def test_spread_capturing_market_makers_are_flagged_and_never_followed(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=12)
    background(w, wallets=20, events=40)
    await w.finish(pool)
    await run_reputation(pool)
    for mm in w.maker_wallets:
        s = await stats(pool, mm)
        assert s["maker_volume_share"] == 1.0
        assert "MARKET_MAKER" in s["flags"]
        assert s["trader_tier"] not in TOP and float(s["reputation_score"]) < 5.5
        assert s["events_resolved"] == 0  # ... on no decision of its own
        assert s["factors"]["behaviour"]["maker_volume_share"] == 1.0


async def test_wash_pair_is_flagged_never_top_and_never_faded(pool: asyncpg.Pool) -> None:
    w = World(seed=13)
    background(w)
    showcase, partner = w.new_wallet(), w.new_wallet()
    wash_pair(w, showcase, partner, 25)
    await w.finish(pool)
    await run_reputation(pool)
    s, p = await stats(pool, showcase), await stats(pool, partner)
    assert "WASH" in s["flags"] and "WASH" in p["flags"]
    assert s["trader_tier"] not in TOP and float(s["reputation_score"]) < 5.5
    assert p["trader_tier"] != "DEGEN" and float(p["reputation_score"]) > 3.0
    behaviour = s["factors"]["behaviour"]
    assert behaviour["top_counterparty"] == partner
    assert behaviour["group_share"] > 0.9
    assert behaviour["price_deviation"] > 0.4  # 0.50 against a market at 0.95
    # The executor neither follows the showcase nor fades the partner's panic "sells".
    settings = StrategySettings(enable_degen_fading=True, max_fade_score=3.0)
    buy = TradeView(137, "0x" + "1" * 64, 1, showcase, "BUY", 1, Decimal("0.5"), Decimal(1000),
                    Decimal(500), s["last_trade_at"], is_taker=True)  # fmt: skip
    market = MarketView(1, None, last_price=Decimal("0.5"), window_high=Decimal("0.95"))
    assert classify(buy, wallet_view_from_stats(s), market, settings) is None
    sell = TradeView(137, "0x" + "2" * 64, 1, partner, "SELL", 1, Decimal("0.5"), Decimal(1000),
                     Decimal(500), p["last_trade_at"], is_taker=True)  # fmt: skip
    low = replace(wallet_view_from_stats(p), score=1.0)  # even if it scored low
    assert classify(sell, low, market, settings) is None


async def test_three_for_three_lucky_wallets_stay_novice(pool: asyncpg.Pool) -> None:
    w = World(seed=14)
    background(w)
    lucky_ones = [w.new_wallet() for _ in range(10)]
    for who in lucky_ones:
        lucky(w, who, usd=5_000.0)
    await w.finish(pool)
    await run_reputation(pool)
    for who in lucky_ones:
        s = await stats(pool, who)
        assert s["wins"] == 3 and s["losses"] == 0
        assert s["trader_tier"] == "NOVICE", dict(s)
        assert 3.0 < float(s["reputation_score"]) < 5.5


async def test_big_unskilled_wallet_is_not_lifted_by_volume(pool: asyncpg.Pool) -> None:
    w = World(seed=15, markets=120)
    background(w)
    whales = [w.new_wallet() for _ in range(3)]
    for who in whales:
        noise_taker(w, who, 100, usd=10_000.0)
    await w.finish(pool)
    await run_reputation(pool)
    for who in whales:
        s = await stats(pool, who)
        assert float(s["total_volume_usdc"]) > 900_000
        assert s["trader_tier"] not in TOP, str(s["factors"]["posterior"])
        assert float(s["reputation_score"]) < 5.5
        assert s["p_edge_above_cost"] < 0.8


async def test_skilled_takers_reach_the_top_tiers_given_enough_events(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=16, markets=300)
    background(w, wallets=25, events=60)
    skilled = {w.new_wallet(): edge for edge in (0.03, 0.04, 0.05) for _ in range(2)}
    for who, edge in skilled.items():
        edge_taker(w, who, 250, edge)
    await w.finish(pool)
    summary = await run_reputation(pool)
    rows = {who: await stats(pool, who) for who in skilled}
    tiers = {who: r["trader_tier"] for who, r in rows.items()}
    detail = [
        (
            skilled[w],
            r["trader_tier"],
            r["flags"],
            round(r["p_edge_above_cost"], 3),
            r["factors"]["behaviour"] if r["flags"] else None,
        )
        for w, r in rows.items()
    ]
    assert all(t in TOP for t in tiers.values()), detail
    assert sum(t == "WHALE" for t in tiers.values()) >= 2, tiers
    for who in skilled:
        s = await stats(pool, who)
        assert s["flags"] == []
        assert s["p_edge_above_cost"] >= 0.8
        assert float(s["reputation_score"]) >= 5.5
        # the closing line sees the edge: about edge / price per dollar
        assert s["clv_edge"] > 0
    assert summary.tiers.get("WHALE", 0) + summary.tiers.get("SMART", 0) <= len(skilled) + 1


async def test_fill_order_case_agrees_between_sql_and_replay(pool: asyncpg.Pool) -> None:
    """Sell 100 untracked YES at 0.60 (fee 0.72), then buy 100 at 0.50 (fee 0.75); YES wins."""
    w = World(seed=17, markets=6, neg_risk_events=0)
    s = next(x for x in w.specs if x.winner == 0)
    who = w.new_wallet()
    mm = w.maker_wallets[0]
    t = s.opens + 10
    w.chain.trade(s.market, t, who, "SELL", 0, 100, 0.60, mm, fee=0.72)
    w.chain.trade(s.market, t + 60, who, "BUY", 0, 100, 0.50, mm, fee=0.75)
    await w.finish(pool)
    await run_reputation(pool)
    row = await stats(pool, who)
    assert row["realized_pnl"] == Decimal("8.53")
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=row)
    assert report.realized_pnl == Decimal("8.53")


async def test_neg_risk_legs_are_one_piece_of_evidence(pool: asyncpg.Pool) -> None:
    """Buying three candidates of one neg-risk event is one event, not three."""
    w = World(seed=18, markets=3, neg_risk_events=0)
    legs = [w.chain.market(0.0, event=77, leg=i) for i in range(3)]
    who, mm = w.new_wallet(), w.maker_wallets[0]
    for i, leg in enumerate(legs):
        w.chain.trade(leg, 100.0 + i, who, "BUY", 0, 100, 0.30, mm, mint=True)
        w.chain.resolve(leg, 1000.0, 0 if i == 1 else 1)
    plain = w.specs[0]
    w.chain.trade(plain.market, plain.opens + 5, who, "BUY", 0, 100, 0.50, mm, mint=True)
    await w.finish(pool)
    await run_reputation(pool)
    s = await stats(pool, who)
    assert s["events_resolved"] == 2  # the neg-risk event once, the standard market once
    assert s["resolved_positions"] == 2 and s["markets_traded"] == 2
    # the event's three legs net into one P&L: 100 - 90 = +10
    assert s["factors"]["win_rate"]["wins"] >= 1
    async with pool.acquire() as conn:
        report = await wallet_report(conn, who, stats=s)
    assert report.inputs.events[0] == 2


async def test_nobody_is_faded_where_nobody_has_an_edge(pool: asyncpg.Pool) -> None:
    """Every taker pays the spread and the fee, so every one loses net of costs: P(edge < 0) is
    near 1 for all of them once the prior has learnt that, and DEGEN by it would fade the
    average taker, whose decisions carry no information (a fader pays the same costs: it loses).
    A DEGEN has to be worse than the average taker by more than a fader's cost; a wallet that
    buys well above the market is."""
    w = World(seed=17, markets=120)
    takers = background(w, wallets=60, events=25)
    loser = w.new_wallet()
    edge_taker(w, loser, 60, -0.15)  # pays 15 cents over the market
    await w.finish(pool)
    summary = await run_reputation(pool)
    rows = {who: await stats(pool, who) for who in takers}
    assert all(float(r["p_edge_below_zero"]) > 0.9 for r in rows.values())  # all lose
    degen = [who for who, r in rows.items() if r["trader_tier"] == "DEGEN"]
    assert len(degen) <= 3, (len(degen), summary.tiers)  # the FDR's 5 % of 60
    lost = await stats(pool, loser)
    assert lost["trader_tier"] == "DEGEN", str(lost["factors"]["posterior"])
    # `orderflow wallet` shows what DEGEN asks beside P(edge < 0)
    for who, is_degen in ((loser, True), (takers[0], False)):
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=await stats(pool, who))
        text = render(await stats(pool, who), report, [])
        line = next(x for x in text.splitlines() if "prior mean - cost, own record" in x)
        p_fade = float(line.split("=")[1].split()[0])
        assert (p_fade >= 0.95) is is_degen, line
    # the executor judges a fade against the same average taker, live and in a backtest
    mean = lost["factors"]["posterior"]["prior_mean"]
    assert mean < -0.05  # every taker pays the spread and the fee
    assert (await wallet_views(pool, [loser]))[loser].prior_mean == pytest.approx(mean)
    backtest = wallet_view((await compute_scores(pool))[loser])
    assert backtest.prior_mean == pytest.approx(mean)
