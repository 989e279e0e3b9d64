"""A wash counterparty is never faded, built as raw chain logs and scored by the real run.

A showcase buys winners at 0.50 from three partners while the market trades them at 0.95. One
partner makes markets elsewhere and loses as a taker: its ring fills are a few per cent of its
volume, so WASH (a share of the wallet's OWN volume) misses it, but it holds a third of the
showcase's: WASH_COUNTERPARTY, never DEGEN. A wallet that lost as much but traded with the
showcase only a little must still be DEGEN.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import asyncpg

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.explain import render
from orderflow.reputation.per_wallet import wallet_report
from orderflow.signals.queries import wallet_view_from_stats
from orderflow.signals.rules import SignalType, classify
from orderflow.signals.views import MarketView, TradeView
from orderflow.strategy.settings import StrategySettings
from tests.reputation.population import (
    World,
    edge_taker,
    noise_taker,
    round_trip_ring,
    wash_ring,
)
from tests.reputation.test_cases import TOP, background, stats


def make_markets(w: World, maker: str, takers: list[str], fills: int, usd: float) -> None:
    """``maker``'s resting orders crossed by ``takers`` at the market price plus the spread."""
    for n in range(fills):
        s = w.rng.choice(w.specs)
        w.take(s, s.time(w.rng), takers[n % len(takers)], w.rng.randrange(2), usd, maker=maker)


async def test_ring_partner_making_markets_elsewhere_is_never_faded(pool: asyncpg.Pool) -> None:
    w = World(seed=31)
    noise = background(w)
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    mm_partner = partners[0]
    wash_ring(w, showcase, partners, 24)
    make_markets(w, mm_partner, noise, 300, 400.0)
    losers = [mm_partner, *(w.new_wallet() for _ in range(6))]
    for who in losers:  # buy 15 cents above the market, a while before the close
        edge_taker(w, who, 70, -0.15)
    bystander = losers[1]  # sells to the showcase too, three small fills at the ring's price
    for s in w.pick(3, binary_only=True):
        w.take(s, s.resolves - 0.05 * (s.resolves - s.opens), showcase, s.winner, 60.0,
               price=0.50, maker=bystander)  # fmt: skip
    await w.finish(pool)

    # The losers pay 15 cents over a market whose price path is deterministic (no martingale):
    # there the closing line's null variance overstates their noise, and they are DEGEN on its
    # sample variance alone (clv_null_events 0; docs/reputation.md "The closing line's null
    # variance"). This test is about the WASH_COUNTERPARTY rule.
    sample = ReputationSettings(clv_null_events=0)
    # Without the rule the partner is DEGEN: WASH does not see it.
    await run_reputation(
        pool, settings=sample.model_copy(update={"wash_counterparty_min_share": 1.0})
    )
    p = await stats(pool, mm_partner)
    assert "WASH" not in p["flags"] and p["trader_tier"] == "DEGEN", (p["flags"], p["factors"])
    # 0.11 of its judged volume (0.05 of all its volume), under wash_off_share
    assert p["factors"]["behaviour"]["off_market_share"] < 0.15

    await run_reputation(pool, settings=sample)
    s = await stats(pool, showcase)
    assert "WASH" in s["flags"]
    p = await stats(pool, mm_partner)
    behaviour = p["factors"]["behaviour"]
    assert "WASH_COUNTERPARTY" in p["flags"] and "WASH" not in p["flags"], str(behaviour)
    assert behaviour["wash_host"] == showcase
    assert 0.25 < behaviour["wash_host_share"] < 0.4  # a third of the showcase's volume
    assert p["trader_tier"] not in (*TOP, "DEGEN")
    assert float(p["reputation_score"]) > ReputationSettings().degen_score
    # The executor never fades its panic sells, even with a fade threshold above its score.
    settings = StrategySettings(enable_degen_fading=True, max_fade_score=6.9)
    sell = TradeView(137, "0x" + "2" * 64, 1, mm_partner, "SELL", 1, Decimal("0.5"),
                     Decimal(1000), Decimal(500), p["last_trade_at"], is_taker=True)  # fmt: skip
    market = MarketView(1, None, last_price=Decimal("0.5"), window_high=Decimal("0.95"))
    assert classify(sell, wallet_view_from_stats(p), market, settings) is None
    loser = wallet_view_from_stats(await stats(pool, losers[2]))
    assert classify(replace(sell, wallet=losers[2]), loser, market, settings) == (
        SignalType.FADE_DEGEN
    )
    # a loser that merely traded a little with the showcase is still DEGEN
    b = await stats(pool, losers[1])
    assert b["flags"] == [] or "WASH_COUNTERPARTY" not in b["flags"], b["factors"]["behaviour"]
    assert b["trader_tier"] == "DEGEN", b["factors"]["posterior"]
    assert (await stats(pool, losers[2]))["trader_tier"] == "DEGEN"
    # the other partners are WASH themselves (a third of their volume is not theirs to lose)
    for other in partners[1:]:
        o = await stats(pool, other)
        assert "WASH" in o["flags"] and o["trader_tier"] != "DEGEN"
    # `orderflow wallet`'s replay keeps the flag with the last run's figures
    async with pool.acquire() as conn:
        report = await wallet_report(conn, mm_partner, stats=p)
    assert "WASH_COUNTERPARTY" in report.scores.flag_names()[0]
    assert report.scores.tier_names()[0] != "DEGEN"
    text = render(p, report, [])
    assert f"* WASH_COUNTERPARTY wash_host={showcase}, wash_host_share=0.3" in text, text


async def test_small_ring_beside_a_large_market_maker_is_wash(pool: asyncpg.Pool) -> None:
    """A ring of three has two partners: a large market maker it also trades with takes the
    third place of each member's group. Weighting the partners by their own volume let that
    outsider open the ring (closed share below a half); weighted by their volume with the
    wallet, the ring stays closed."""
    w = World(seed=32)
    background(w, wallets=40, events=40)
    ring = [w.new_wallet() for _ in range(3)]
    round_trip_ring(w, ring, 10)
    for who in ring:
        noise_taker(w, who, 10)  # against the world's makers
    await w.finish(pool)
    await run_reputation(pool)
    for who in ring:
        s = await stats(pool, who)
        behaviour = s["factors"]["behaviour"]
        assert "WASH" in s["flags"], behaviour
        assert behaviour["group_share"] > 0.8 and behaviour["group_closed_share"] > 0.6
        assert s["trader_tier"] not in (*TOP, "DEGEN")
    for mm in w.maker_wallets:  # a little of their volume with each member: not partners
        assert not {"WASH", "WASH_COUNTERPARTY"} & set((await stats(pool, mm))["flags"])
