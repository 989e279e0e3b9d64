"""The COPIER pairing is bounded (``copy_look_back``): a buy is paired with the last that many
buys of its token before it within ``copy_window_secs``, however densely the token trades.

Before (the window at 30 minutes), a buy met every buy of its token in the window before it: on
dense buys the pairs, and the statement's time, grew with the window's buys (x12-15 from 120 s
to 1,800 s, docs/benchmarks.md). Counted in rows, never in time."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.copy_state import CELLS
from tests.reputation.population import DAY, World, noise_taker
from tests.reputation.test_copiers import _skilled_buy


async def test_a_dense_tokens_pairs_per_buy_are_bounded(pool: asyncpg.Pool) -> None:
    """200 wallets buy one token once each, one every 6 s at one price (all 200 within 20
    minutes: every earlier buy is in the window). Each buy trails at most ``copy_look_back``
    others and leads at most as many; the later ones exactly that many."""
    s = ReputationSettings()
    k = s.copy_look_back
    w = World(seed=97, markets=3, neg_risk_events=0)
    spec = next(x for x in w.specs if 0.2 < x.opening < 0.8)
    t0 = spec.opens + 0.3 * DAY
    buyers = [w.new_wallet() for _ in range(200)]
    for i, who in enumerate(buyers):
        w.take(spec, t0 + 6.0 * i, who, 1, 50.0, price=0.5)
    await w.finish(pool)
    await run_reputation(pool, settings=s)
    assert (await run_reputation(pool, settings=s)).copy_cells == "rebuilt"
    rows = await pool.fetch(
        f"""SELECT f, sum(trail)::int8 AS trail, sum(lead)::int8 AS lead
              FROM {CELLS} GROUP BY f"""
    )
    trail = {r["f"]: r["trail"] for r in rows}
    lead = {r["f"]: r["lead"] for r in rows}
    # a buy's pairs: one per earlier buyer it trails (each buys once, so one buy per leader)
    assert max(trail.values()) == k, max(trail.values())
    assert max(lead.values()) == k, max(lead.values())
    assert [trail.get(a, 0) for a in buyers] == [min(i, k) for i in range(200)]
    assert [lead.get(a, 0) for a in buyers] == [min(199 - i, k) for i in range(200)]


async def test_a_copier_behind_a_crowd_is_flagged(pool: asyncpg.Pool) -> None:
    """What the bound must keep: a copy-bot 3-20 minutes behind its leader on busy tokens,
    where a crowd buys about once a minute at the market's price (3-20 buys between the
    leader's fill and the copy: fewer than ``copy_look_back``), is COPIER; its leader is not;
    nor is any of the crowd, whose 30 wallets are each tested against the 29 others (870
    ordered pairs). Before the level was divided by the leaders a follower is tested against,
    one crowd wallet was COPIER here by chance (trailing another 40 times against 14 leading,
    P 0.00027 at 0.001 a pair: docs/reputation.md, "Many leaders tried")."""
    w = World(seed=98, markets=140, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    leader, copier = w.new_wallet(), w.new_wallet()
    crowd = [w.new_wallet() for _ in range(30)]
    binary = [s for s in w.specs if not s.market.neg_risk and 0.25 < s.opening < 0.75]
    for s in binary[:40]:
        t, out, q = _skilled_buy(w, s)
        w.take(s, t, leader, out, 150.0, price=q)
        w.take(s, t + w.rng.uniform(180.0, 1200.0), copier, out, 100.0, price=min(0.99, q + 0.01))
        at = t - 1500.0  # a crowd buy every 40-80 s from 25 minutes before to 25 after
        while at < t + 1500.0:
            price = round(min(0.99, s.price(at, out) + w.rng.choice((0.0, 0.01, 0.02))), 2)
            w.take(s, at, w.rng.choice(crowd), out, 50.0, price=price)
            at += w.rng.uniform(40.0, 80.0)
    await w.finish(pool)
    await run_reputation(pool)
    flags = {r["wallet_address"]: list(r["flags"]) for r in await pool.fetch(
        "SELECT wallet_address, flags FROM orderflow_wallet_stats")}  # fmt: skip
    assert flags[copier] == ["COPIER"], flags[copier]
    assert "COPIER" not in flags[leader]
    assert [a for a in crowd if "COPIER" in flags[a]] == []
