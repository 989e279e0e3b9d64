"""Copy-trading wallets: COPIER, never WHALE or SMART; the leader keeps its tier.

A copy-trading bot mirrors one leader's taker buys seconds later at the book, at the price the
leader's fill left: its record is the leader's decisions, so it looked as skilled as the leader
(in the simulator's strong market 4 of 72 copiers reached WHALE or SMART, each copying a WHALE:
docs/reputation.md "Copiers, late buyers, ..."). Two independent skilled wallets that buy the
same mispriced tokens early, each first about half the time, are no copiers of each other.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import asyncpg
import numpy as np
import pytest

from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.flags import copier_rows, sign_test
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import DAY, HALF_SPREAD, Spec, World, noise_taker
from tests.reputation.test_cases import stats
from tests.reputation.test_void_decisions import _full_equals_incremental

TOP = ("WHALE", "SMART")


def _skilled_buy(w: World, s: Spec) -> tuple[float, int, float]:
    """An early buy of the side that wins four markets of five, at the book: time, outcome,
    price."""
    t = s.opens + w.rng.uniform(0.1, 0.5) * DAY
    outcome = s.winner if w.rng.random() < 0.8 else 1 - s.winner
    return t, outcome, round(min(0.98, s.price(t, outcome) + HALF_SPREAD), 2)


def _world(
    seed: int, held: list[Callable[[], None]] | None = None, behind: tuple[float, float] = (4, 60)
) -> tuple[World, str, str, str, str, list[Spec]]:
    """The world; ``held``: the leader's buys are put there to be made later; ``behind``: how
    many seconds the copy and the second of the two skilled wallets come after the first."""
    w = World(seed=seed, markets=140, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    leader, copier, first, second = (w.new_wallet() for _ in range(4))
    binary = [s for s in w.specs if not s.market.neg_risk and 0.25 < s.opening < 0.75]
    w.rng.shuffle(binary)
    ours, shared, late = binary[:40], binary[40:80], binary[80:100]
    for s in ours:  # the leader, and its copy `behind` later at a cent worse (or the same price)
        t, outcome, q = _skilled_buy(w, s)
        lead = partial(w.take, s, t, leader, outcome, 150.0, price=q)
        if held is None:
            lead()
        else:
            held.append(lead)
        q2 = min(0.99, q + (0.01 if w.rng.random() < 0.7 else 0.0))
        w.take(s, t + w.rng.uniform(*behind), copier, outcome, 100.0, price=q2)
    for s in shared:  # two skilled wallets on the same mispriced tokens, either one first
        t, outcome, q = _skilled_buy(w, s)
        a, b = (first, second) if w.rng.random() < 0.5 else (second, first)
        w.take(s, t, a, outcome, 150.0, price=q)
        w.take(s, t + w.rng.uniform(*behind), b, outcome, 150.0, price=min(0.99, q + 0.01))
    return w, leader, copier, first, second, late


async def _rows(pool: asyncpg.Pool, *who: str) -> dict[str, asyncpg.Record]:
    return {a: await stats(pool, a) for a in who}


async def test_a_copier_is_flagged_and_its_leader_keeps_its_tier(pool: asyncpg.Pool) -> None:
    w, leader, copier, first, second, late = _world(seed=81)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    rows = await _rows(pool, leader, copier, first, second)
    tiers = {a: (r["trader_tier"], r["flags"]) for a, r in rows.items()}
    assert rows[leader]["trader_tier"] in TOP and rows[leader]["flags"] == [], tiers
    assert rows[copier]["trader_tier"] not in TOP, tiers
    assert rows[copier]["flags"] == ["COPIER"], tiers
    assert rows[copier]["trader_tier"] != "DEGEN", tiers  # never faded either
    # independent skilled wallets buying the same tokens within the window: not copiers
    for a in (first, second):
        assert rows[a]["flags"] == [] and rows[a]["trader_tier"] in TOP, tiers
    async with pool.acquire() as conn:  # `orderflow wallet` keeps the run's verdict
        report = await wallet_report(conn, copier, stats=rows[copier])
    assert report.scores.flag_names() == [["COPIER"]]
    assert report.scores.tier_names()[0] not in TOP

    # more copies later: the incremental run says what a full one says
    for s in late:
        t, outcome, q = _skilled_buy(w, s)
        w.take(s, t, leader, outcome, 150.0, price=q)
        w.take(s, t + 30.0, copier, outcome, 100.0, price=min(0.99, q + 0.01))
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    rows = await _rows(pool, leader, copier)
    assert rows[copier]["flags"] == ["COPIER"] and rows[leader]["flags"] == []
    await _full_equals_incremental(pool)


async def test_the_flag_follows_the_leaders_fills_in_an_incremental_run(
    pool: asyncpg.Pool,
) -> None:
    """The copier's own fills came first (its leader's not yet stored): no copier then; the
    leader's fills arrive later, and the incremental run flags the copier, whose own fills did
    not change, as a full run does."""
    held: list[Callable[[], None]] = []
    w, leader, copier, _, _, _ = _world(seed=82, held=held)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await stats(pool, copier))["flags"] == []
    for lead in held:
        lead()
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    rows = await _rows(pool, leader, copier)
    assert rows[copier]["flags"] == ["COPIER"] and rows[copier]["trader_tier"] not in TOP
    assert rows[leader]["flags"] == [] and rows[leader]["trader_tier"] in TOP
    await _full_equals_incremental(pool)


@pytest.mark.parametrize("seed", [81, 83])
async def test_a_copier_minutes_behind_is_flagged(pool: asyncpg.Pool, seed: int) -> None:
    """A copy-trading service polls the data API every 1-10 minutes: its copies come minutes
    after the leader's fill. A copier 3-20 minutes behind is COPIER and out of the top tiers
    (with a 120-second window it was not flagged, and WHALE beside its leader); its leader and
    two independent skilled wallets 3-20 minutes apart on the same tokens, either one first, are
    not flagged. (Their tiers are the prior's: on seed 83 the three fall from the top tiers to
    AVERAGE once the copier's record leaves the prior's estimate, docs/reputation.md.)"""
    w, leader, copier, first, second, _ = _world(seed=seed, behind=(180.0, 1200.0))
    await w.finish(pool)
    await run_reputation(pool)
    rows = await _rows(pool, leader, copier, first, second)
    tiers = {a: (r["trader_tier"], r["flags"]) for a, r in rows.items()}
    assert rows[copier]["flags"] == ["COPIER"] and rows[copier]["trader_tier"] not in TOP, tiers
    for a in (leader, first, second):
        assert rows[a]["flags"] == [], tiers


def test_the_sign_test_is_the_binomial_tail() -> None:
    assert sign_test(10, 10) == 2.0**-10
    assert sign_test(0, 10) == 1.0
    assert abs(sign_test(6, 10) - 386 / 1024) < 1e-15


def _judged(rows: list[list[int]], s: ReputationSettings) -> list[bool]:
    """``copier_rows`` over columns given as lists: follower, trail, lead, markets, buys."""
    f, trail, lead, markets, buys = (np.array(v, dtype=np.int64) for v in rows)
    return [bool(x) for x in copier_rows(f, trail, lead, markets, buys, s)]


def test_the_level_is_shared_among_the_leaders_tried() -> None:
    """A follower trailing one leader 14 times against 2 (P 0.0021) with a level of 0.01 is a
    copier of it when it is the only leader tried, not when it is one of ten tried (each row's
    level 0.001): among ten independent leaders one such pair turns up by chance."""
    s = ReputationSettings(copy_alpha=0.01)
    assert 0.001 < sign_test(14, 16) < 0.01
    assert _judged([[7], [14], [2], [5], [20]], s) == [True]
    assert (
        _judged([[7] * 10, [14] + [3] * 9, [2] + [3] * 9, [5] * 10, [20] * 10], s) == [False] * 10
    )
    # another follower's leaders do not count against this one
    rows = [[7] + [8] * 9, [14] + [3] * 9, [2] + [3] * 9, [5] * 10, [20] * 10]
    assert _judged(rows, s) == [True] + [False] * 9
    # a copier trailing 40 times against none passes whatever the number of leaders tried
    rows = [[7] * 10, [40] + [3] * 9, [0] + [3] * 9, [5] * 10, [60] * 10]
    assert _judged(rows, s)[0]


def test_the_share_is_of_the_copied_leaders_together() -> None:
    """Four leaders each trailed 15 times and never led (P 3e-5, under 0.001 / 4), of 60 buys:
    a quarter each, all of them together, so each is copied; the same follower with one such
    leader and three it trails as often as it leads (not copies) holds a quarter: no leader is
    copied."""
    s = ReputationSettings()
    assert _judged([[1] * 4, [15] * 4, [0] * 4, [5] * 4, [60] * 4], s) == [True] * 4
    rows = [[1] * 4, [15] * 4, [0, 15, 15, 15], [5] * 4, [60] * 4]
    assert _judged(rows, s) == [False] * 4
    # two followers apart: the second's copied leaders do not make the first's share
    rows = [[1, 2, 2], [15, 15, 15], [0, 0, 0], [5] * 3, [60, 30, 30]]
    assert _judged(rows, s) == [False, True, True]


def list_world(seed: int = 85) -> tuple[World, list[str], str]:
    """A copy service following a hand-picked list of wallets (most copy bots poll a list):
    four skilled leaders on 20 tokens each, every buy copied 4-60 s later at a cent worse. The
    world, the leaders, the bot."""
    w = World(seed=seed, markets=160, neg_risk_events=0)
    for _ in range(20):
        noise_taker(w, w.new_wallet(), 30)
    leaders = [w.new_wallet() for _ in range(4)]
    bot = w.new_wallet()
    binary = [s for s in w.specs if not s.market.neg_risk and 0.25 < s.opening < 0.75]
    w.rng.shuffle(binary)
    for k, s in enumerate(binary[:80]):
        t, outcome, q = _skilled_buy(w, s)
        w.take(s, t, leaders[k % 4], outcome, 150.0, price=q)
        q2 = min(0.99, q + (0.01 if w.rng.random() < 0.7 else 0.0))
        w.take(s, t + w.rng.uniform(4, 60), bot, outcome, 100.0, price=q2)
    return w, leaders, bot


async def test_a_bot_copying_several_leaders_is_flagged(pool: asyncpg.Pool) -> None:
    """:func:`list_world`: no leader holds half the bot's buys (a quarter each), but together
    they hold all of them: the bot is COPIER and out of the top tiers; the leaders are not
    flagged. (Before, the share was asked of each leader alone: the bot was not flagged, and
    WHALE in 9 of 10 such worlds, seeds 86-95: four leaders' records in one.)"""
    w, leaders, bot = list_world()
    await w.finish(pool)
    await run_reputation(pool)
    rows = await _rows(pool, bot, *leaders)
    tiers = {a: (r["trader_tier"], r["flags"]) for a, r in rows.items()}
    assert rows[bot]["flags"] == ["COPIER"] and rows[bot]["trader_tier"] not in TOP, tiers
    for a in leaders:
        assert rows[a]["flags"] == [], tiers
