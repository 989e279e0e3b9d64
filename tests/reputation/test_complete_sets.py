"""Complete-set arbitrageurs: HEDGED, never followed, never faded.

A complete-set arbitrageur buys every outcome of a market (YES and NO of a binary market, YES
on every leg of a neg-risk event) when the asks sum below what the set pays, and holds it: a
cent or two a set, every event a win. Each leg alone is a coin flip bought at the ask; copying
it buys no edge, and copying every leg seconds later finds the arbitrage gone. In the
simulator's ``arbitrageurs`` population (tests/reputation/test_population_variants.py) such
wallets filled WHALE and SMART; here the flag's figure is pinned on a small world: the set-based
run, the per-wallet replay and an incremental run (a leg added to an event afterwards included)
agree on it.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from orderflow.signals.queries import wallet_view_from_stats
from orderflow.signals.rules import classify
from orderflow.signals.views import MarketView, Side, TradeView
from orderflow.strategy.settings import StrategySettings
from tests.reputation.population import World, noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental


def _hedged_share(row: asyncpg.Record) -> float:
    share = row["factors"]["behaviour"]["hedged_share"]
    assert share is not None
    return float(share)


async def test_complete_sets_are_hedged(pool: asyncpg.Pool) -> None:
    w = World(seed=41, markets=40, neg_risk_events=4)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    arb, partial = w.new_wallet(), w.new_wallet()
    binary = [s for s in w.specs if not s.market.neg_risk and 0.1 < s.opening < 0.9]
    for s in binary[:25]:  # YES and NO, two cents below the set's payout, soon after the open
        t = s.opens + 3_600
        for outcome in (0, 1):
            price = max(0.01, round(s.price(t, outcome) - 0.01, 2))
            w.take(s, t, arb, outcome, 300.0 * price, price=price)
    events: dict[str, list[int]] = {}
    for i, s in enumerate(w.specs):
        if s.market.neg_risk:
            events.setdefault(s.market.question_id[:64], []).append(i)
    for legs in events.values():  # YES on every leg: exactly one pays
        t = w.specs[legs[0]].opens + 3_600
        shares = 300.0
        for i in legs:
            s = w.specs[i]
            price = max(0.01, round(s.price(t, 0) - 0.02, 2))
            w.take(s, t, arb, 0, shares * price, price=price)
        # YES on all but one leg: no set (the missing leg may win)
        for i in legs[:-1]:
            s = w.specs[i]
            w.take(s, t, partial, 0, 100.0, price=s.price(t, 0))
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental

    a, p = await stats(pool, arb), await stats(pool, partial)
    assert "HEDGED" in a["flags"], (a["flags"], a["factors"]["behaviour"])
    assert _hedged_share(a) > 0.9
    assert a["trader_tier"] not in ("WHALE", "SMART", "DEGEN")
    assert "HEDGED" not in p["flags"] and _hedged_share(p) == 0.0

    # neither followed nor faded, whatever the score
    settings = StrategySettings(enable_degen_fading=True, max_fade_score=3.0)
    market = MarketView(1, None, last_price=Decimal("0.5"), window_high=Decimal("0.95"))
    view = wallet_view_from_stats(a)
    sides: tuple[tuple[Side, float], ...] = (("BUY", 9.0), ("SELL", 1.0))
    for side, score in sides:
        trade = TradeView(137, "0x" + "1" * 64, 1, arb, side, 1, Decimal("0.5"), Decimal(1000),
                          Decimal(500), a["last_trade_at"], is_taker=True)  # fmt: skip
        assert classify(trade, replace(view, score=score), market, settings) is None

    # the per-wallet replay computes the same figure
    for who, row in ((arb, a), (partial, p)):
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        stored = await pool.fetchval(
            "SELECT hedged_volume FROM orderflow_reputation_inputs WHERE wallet_address = $1", who
        )
        assert abs(report.inputs.hedged_volume[0] - stored) < 1e-6, who
        assert report.scores.flag_names()[0] == list(row["flags"])

    # a leg added to an event afterwards: YES on the old legs is no longer a complete set
    key = next(iter(events))
    leg = w.chain.market(w.specs[events[key][0]].opens, event=int(key[2:], 16) - 0xE0000000,
                         leg=len(events[key]))  # fmt: skip
    assert leg.question_id[:64] == key
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    after = await stats(pool, arb)
    assert _hedged_share(after) < _hedged_share(a)
    await _full_equals_incremental(pool)
