"""WASH on rings and off-market fills, built as raw chain logs and scored by the real run.

The one-pair case is in ``test_cases``; here a showcase spreads its off-market purchases over three
partners (the defect: a rule on ONE counterparty never looked at it), a ring trades round trips at
market prices for volume, and genuine takers -- one buying from many makers at market prices, one
right after a price jump -- must not be flagged.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import (
    World,
    news_taker,
    round_trip_ring,
    skilled_taker,
    wash_ring,
)
from tests.reputation.test_cases import TOP, background, stats


async def test_showcase_buying_from_three_partners_off_market_is_wash(pool: asyncpg.Pool) -> None:
    w = World(seed=21)
    background(w)
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    wash_ring(w, showcase, partners, 24)
    await w.finish(pool)
    await run_reputation(pool)
    s = await stats(pool, showcase)
    behaviour = s["factors"]["behaviour"]
    assert "WASH" in s["flags"], behaviour
    assert s["trader_tier"] not in TOP and float(s["reputation_score"]) < 5.5
    assert behaviour["off_market_share"] > 0.9 and behaviour["off_market_fills"] >= 20
    assert behaviour["price_deviation"] > 0.4  # 0.50 against a market at 0.95
    assert behaviour["group_share"] > 0.9 and behaviour["group_closed_share"] > 0.9
    assert behaviour["top_counterparty"] in partners
    for p in partners:  # each sells a third of the showcase's volume: never faded
        ps = await stats(pool, p)
        assert "WASH" in ps["flags"], ps["factors"]["behaviour"]
        assert ps["trader_tier"] != "DEGEN"
    # The per-wallet replay shows the same figures and the same flag.
    async with pool.acquire() as conn:
        report = await wallet_report(conn, showcase, stats=s)
    assert "WASH" in report.scores.flag_names()[0]
    assert report.inputs.wash_off_share[0] == behaviour["off_market_share"]
    assert report.inputs.wash_share[0] == behaviour["group_share"]
    # Either rule alone catches it: the off-market fills, and the closed group of four.
    for alone in (ReputationSettings(wash_min_share=1.0), ReputationSettings(wash_off_share=1.0)):
        await run_reputation(pool, settings=alone)
        assert "WASH" in (await stats(pool, showcase))["flags"]


async def test_ring_trading_round_trips_at_market_prices_is_wash(pool: asyncpg.Pool) -> None:
    w = World(seed=22)
    background(w)
    ring = [w.new_wallet() for _ in range(4)]
    round_trip_ring(w, ring, 30)
    await w.finish(pool)
    await run_reputation(pool)
    for who in ring:
        s = await stats(pool, who)
        behaviour = s["factors"]["behaviour"]
        assert "WASH" in s["flags"], behaviour
        assert behaviour["group_share"] > 0.9 and behaviour["group_closed_share"] > 0.9
        assert behaviour["off_market_share"] < 0.25  # at market prices: the concentration rule
        assert s["trader_tier"] not in TOP and s["trader_tier"] != "DEGEN"


async def test_genuine_takers_and_makers_are_not_wash(pool: asyncpg.Pool) -> None:
    w = World(seed=23)
    noise = background(w, wallets=20, events=40)
    skilled = [w.new_wallet() for _ in range(3)]
    for who in skilled:
        skilled_taker(w, who, 40, skill=0.8)
    news = [w.new_wallet() for _ in range(3)]
    for who in news:
        news_taker(w, who, 30)
    await w.finish(pool)
    await run_reputation(pool)
    for who in (*noise, *skilled, *news, *w.maker_wallets):
        s = await stats(pool, who)
        assert "WASH" not in s["flags"], (who, s["factors"]["behaviour"])
    for who in news:  # they did trade well away from the price before the news
        b = (await stats(pool, who))["factors"]["behaviour"]
        assert b["price_deviation"] is not None and b["off_market_share"] < 0.1, b
