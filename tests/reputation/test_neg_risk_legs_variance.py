"""One bet spread over several legs of a neg-risk event is one bet in the edge's null variance.

Exactly one leg of a neg-risk event wins, so its legs' payouts covary: YES on a candidate and NO
on a rival both pay when the candidate wins and both lose when the rival does. The outcome's null
variance summed each position's x^2 q(1 - q) as if the legs were independent coins, which
understated the variance of such a bet (docs/reputation.md "The edge and its posterior": the
yardstick is the variance a zero-edge bettor's record would have). The exact variance of the
event's payout, sum a_i^2 p_i - (sum a_i p_i)^2 over its legs, is what the run reads now where it
is the larger, over the shares kept to the resolution; a dutch book (YES on two candidates,
which cannot both win) keeps the independent legs' figure, the larger of the two, and so does a
bettor that sold one of its legs before the resolution. The per-wallet replay computes the
same sums and an incremental run equals a full one.
"""

from __future__ import annotations

import math

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.chainbook import Chain, wallet
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental

DAY = 86_400.0
EVENTS = 24
USD = 100.0
P_YES, P_NO = 0.40, 0.70  # YES on the candidate at 0.40, NO on a rival at 0.70 (P(rival) 0.30)


def _shares(price: float) -> float:
    return round(USD / price, 2)


def _world(chain: Chain, events: int, first: int = 0) -> tuple[str, str, str, str]:
    """``events`` neg-risk events of three legs, one a day; the rivals bettor buys YES on leg 0
    and NO on leg 1, the dutch bettor YES on legs 0 and 1, the control YES on leg 0 alone, the
    exiter the rivals bettor's two legs but sells its NO (at its price) before the resolution."""
    rivals, dutch, single, maker = wallet(901), wallet(902), wallet(903), wallet(904)
    exiter = wallet(905)
    for k in range(first, first + events):
        opens = k * DAY
        legs = [chain.market(opens, event=7000 + k, leg=i) for i in range(3)]
        t = opens + 3600.0
        chain.trade(legs[0], t, rivals, "BUY", 0, _shares(P_YES), P_YES, maker, mint=True)
        chain.trade(legs[1], t, rivals, "BUY", 1, _shares(P_NO), P_NO, maker, mint=True)
        chain.trade(legs[0], t, dutch, "BUY", 0, _shares(P_YES), P_YES, maker, mint=True)
        chain.trade(legs[1], t, dutch, "BUY", 0, _shares(0.30), 0.30, maker, mint=True)
        chain.trade(legs[0], t, single, "BUY", 0, _shares(P_YES), P_YES, maker, mint=True)
        chain.trade(legs[0], t, exiter, "BUY", 0, _shares(P_YES), P_YES, maker, mint=True)
        chain.trade(legs[1], t, exiter, "BUY", 1, _shares(P_NO), P_NO, maker, mint=True)
        chain.trade(legs[1], t + 7200.0, exiter, "SELL", 1, _shares(P_NO), P_NO, maker)
        winner = k % 3  # each leg wins once in three events
        for i, m in enumerate(legs):
            chain.resolve(m, opens + DAY / 2, 0 if i == winner else 1)
    return rivals, dutch, single, exiter


def _independent(*legs: tuple[float, float]) -> float:
    return sum(x * x * q * (1 - q) for x, q in legs)


async def _inputs(pool: asyncpg.Pool, *who: str) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch(
        "SELECT wallet_address, null_var, events FROM orderflow_reputation_inputs"
        " WHERE wallet_address = ANY($1::text[])",
        list(who),
    )
    return {r["wallet_address"]: r for r in rows}


async def test_a_bet_on_several_legs_has_the_events_null_variance(pool: asyncpg.Pool) -> None:
    chain = Chain()
    rivals, dutch, single, exiter = _world(chain, EVENTS)
    await chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    got = await _inputs(pool, rivals, dutch, single, exiter)
    assert all(got[w]["events"] == EVENTS for w in (rivals, dutch, single)), got

    y, n = _shares(P_YES), _shares(P_NO)
    # the payout's variance when exactly one leg wins: a = shares x implied P(YES), signed
    a_yes, a_no = y * P_YES, -n * (1 - P_NO)
    exact = _independent((y, P_YES), (n, P_NO)) + (a_yes**2 + a_no**2 - (a_yes + a_no) ** 2)
    assert exact > 1.2 * _independent((y, P_YES), (n, P_NO))  # the legs pay together
    assert math.isclose(got[rivals]["null_var"], EVENTS * exact, rel_tol=1e-9), (
        got[rivals]["null_var"],
        EVENTS * exact,
        EVENTS * _independent((y, P_YES), (n, P_NO)),
    )
    # a dutch book's legs cannot both win: the independent legs' figure is the larger, kept
    d = _shares(0.30)
    dutch_indep = _independent((y, P_YES), (d, 0.30))
    assert math.isclose(got[dutch]["null_var"], EVENTS * dutch_indep, rel_tol=1e-9)
    # one leg alone: as before
    assert math.isclose(got[single]["null_var"], EVENTS * _independent((y, P_YES)), rel_tol=1e-9)
    # what was sold before the resolution pays nothing there: no covariance (the positions'
    # own figure counts what was bought, as before)
    independent = EVENTS * _independent((y, P_YES), (n, P_NO))
    assert math.isclose(got[exiter]["null_var"], independent, rel_tol=1e-9), got[exiter]

    # the per-wallet replay computes the same sums
    for who in (rivals, dutch, single, exiter):
        row = await stats(pool, who)
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        x, want = report.inputs.null_var[0], got[who]["null_var"]
        assert math.isclose(x, want, rel_tol=1e-9), (who, x, want)

    # an incremental run (more events for all three) equals a full one, to the bit
    _world(chain, 4, first=EVENTS)
    await chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals_incremental(pool)
