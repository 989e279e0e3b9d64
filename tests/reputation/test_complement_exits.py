"""A trader who exits by buying the complement holds complete sets, but is no arbitrageur.

A skilled trader buys the side that later wins at a good price; once the price has moved its
way it locks the gain in by buying the complement (YES at 0.40, NO at 0.45 when YES trades at
0.55: +0.15 a share whatever happens) -- a common exit on Polymarket when the complement's book
is deeper than its own bid. It ends up holding complete sets, as a complete-set arbitrageur does
(tests/reputation/test_complete_sets.py), but its first leg carried the information and the
second came hours or days later, after the price moved: only legs bought together make a set
for HEDGED, their first taker fills no more than ``hedged_leg_window_secs`` apart
(docs/reputation.md "Complete-set arbitrageurs"). An arbitrageur that adds sets to the same
markets days later, its legs' first buys together, stays HEDGED. The run, the per-wallet replay
and an incremental run agree on the figure.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.chainbook import T0
from tests.reputation.population import DAY, HALF_SPREAD, Spec, World, noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental

MARKETS = 28
EXITED = 22  # of MARKETS: most positions closed by buying the complement
SHARES = 250.0


def _exit_time(s: Spec, t: float, entry: float) -> float | None:
    """The first time (6-hourly, at least 6 hours after ``t``) the winner trades 0.10 above
    ``entry``, well before the resolution."""
    for k in range(1, 400):
        at = t + k * DAY / 4
        if at > s.resolves - DAY:
            return None
        if s.price(at, s.winner) >= entry + 0.10:
            return at
    return None


async def _replay_agrees(pool: asyncpg.Pool, rows: dict[str, asyncpg.Record]) -> None:
    """The per-wallet replay computes the run's figure to the bit, and the same flags."""
    for who, row in rows.items():
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        stored = await pool.fetchval(
            "SELECT hedged_volume FROM orderflow_reputation_inputs WHERE wallet_address = $1", who
        )
        assert report.inputs.hedged_volume[0] == stored, who
        assert report.scores.flag_names()[0] == list(row["flags"]), who


def _world() -> tuple[World, str, str, list[Spec]]:
    w = World(seed=67, markets=200, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    exiter, arb = w.new_wallet(), w.new_wallet()
    # the same skill, held to resolution; hours after the exiter's buy, not a minute: two wallets
    # buying its token 60 and 120 s after it at its price in every market are its copiers
    # (COPIER, docs/reputation.md), which leave the prior's fit
    holders = [w.new_wallet(), w.new_wallet()]
    days: dict[int, Spec] = {}
    for s in w.specs:  # one market per UTC day of resolution
        if 0.2 < s.opening < 0.8:
            days.setdefault(int((T0 + s.resolves) // DAY), s)
    exited = held = 0
    kept: list[Spec] = []
    for s in days.values():
        t = s.opens + DAY
        entry = min(0.99, s.price(t, s.winner) + HALF_SPREAD)
        out = _exit_time(s, t, entry)
        if (exited < EXITED and out is not None) or held < MARKETS - EXITED:
            for k, who in enumerate(holders):
                w.take(s, t + 7200 * (k + 1), who, s.winner, SHARES * entry, price=entry)
        if exited < EXITED and out is not None:
            w.take(s, t, exiter, s.winner, SHARES * entry, price=entry)
            exit_price = min(0.99, s.price(out, 1 - s.winner) + HALF_SPREAD)
            assert entry + exit_price < 0.95, (entry, exit_price)  # the gain locked in
            w.take(s, out, exiter, 1 - s.winner, SHARES * exit_price, price=exit_price)
            exited += 1
        elif held < MARKETS - EXITED:
            w.take(s, t, exiter, s.winner, SHARES * entry, price=entry)
            kept.append(s)
            held += 1
    assert (exited, held) == (EXITED, MARKETS - EXITED), (exited, held)
    # an arbitrageur adding sets to the same markets over days: YES and NO in one block each time
    binary = [s for s in w.specs if 0.1 < s.opening < 0.9][:12]
    for s in binary:
        for day in (1, 4, 9):
            t = s.opens + day * DAY
            for outcome in (0, 1):
                price = max(0.01, round(s.price(t, outcome) - 0.01, 2))
                w.take(s, t, arb, outcome, 200.0 * price, price=price)
    return w, exiter, arb, kept


def _hedged_share(row: asyncpg.Record) -> float:
    return float(row["factors"]["behaviour"]["hedged_share"])


async def test_a_complement_exit_is_no_complete_set_arbitrage(pool: asyncpg.Pool) -> None:
    w, exiter, arb, kept = _world()
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    e, a = await stats(pool, exiter), await stats(pool, arb)
    behaviour = e["factors"]["behaviour"]
    days = await pool.fetchval(
        "SELECT resolution_days FROM orderflow_reputation_inputs WHERE wallet_address = $1", exiter
    )
    assert days >= 25, days
    assert "HEDGED" not in e["flags"], (e["flags"], e["trader_tier"], behaviour["hedged_share"])
    assert _hedged_share(e) == 0.0, behaviour
    assert e["trader_tier"] in ("WHALE", "SMART"), (e["trader_tier"], e["factors"]["posterior"])
    assert "HEDGED" in a["flags"] and _hedged_share(a) > 0.9, (a["flags"], a["factors"])

    await _replay_agrees(pool, {exiter: e, arb: a})

    # the exiter closes one more position the same way, late; a new noise taker: an
    # incremental run rescores it (still no set) and equals a full one
    s = kept[0]
    w.take(s, s.resolves - 2 * DAY, exiter, 1 - s.winner, 50.0)
    noise_taker(w, w.new_wallet(), 10)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    assert _hedged_share(await stats(pool, exiter)) == 0.0
    await _full_equals_incremental(pool)


async def test_a_neg_risk_set_counts_the_legs_bought_together(pool: asyncpg.Pool) -> None:
    """A neg-risk event: its kept tokens part where one's first taker fill comes more than the
    window after the previous one's, and each part is valued on its own. An exiter (YES on one
    leg, its NO two days later) holds two parts of one token each: no set. An arbitrageur that
    bought YES on every leg together and, days later, NO on every leg together (the simulator's
    arbitrageurs do: 43 of 466 events on seed 1) holds two complete parts: both count (one
    window over the event would lose one of them or both)."""
    w = World(seed=73, markets=12, neg_risk_events=4)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 12)
    exiter, arb = w.new_wallet(), w.new_wallet()
    events: dict[str, list[Spec]] = {}
    for s in w.specs:
        if s.market.neg_risk:
            events.setdefault(s.market.question_id[:64], []).append(s)
    for legs in events.values():
        first = legs[0]
        t = first.opens + DAY
        w.take(first, t, exiter, 0, 100.0)
        w.take(first, t + 2 * DAY, exiter, 1, 100.0)
        t = first.opens + 3_600
        for s in legs:  # YES on every leg, two cents under: exactly one pays
            price = max(0.01, round(s.price(t, 0) - 0.02, 2))
            w.take(s, t, arb, 0, 300.0 * price, price=price)
        t += 5 * DAY
        for s in legs:  # five days later, NO on every leg: legs - 1 pay
            price = max(0.01, round(s.price(t, 1) - 0.02, 2))
            w.take(s, t, arb, 1, 300.0 * price, price=price)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    e, a = await stats(pool, exiter), await stats(pool, arb)
    assert _hedged_share(e) == 0.0, e["factors"]["behaviour"]
    assert "HEDGED" in a["flags"] and _hedged_share(a) > 0.9, a["factors"]["behaviour"]
    await _replay_agrees(pool, {exiter: e, arb: a})
    noise_taker(w, w.new_wallet(), 5)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals_incremental(pool)
