"""A decision is valued from the price a follower would pay (orderflow.reputation.follow_sql):
the first print of the token by another wallet at least ``follow_latency_secs`` after the fill.

A stale-quote picker buys seconds after the price stepped up 4 cents, at the old price plus half
a cent (a maker's quote not yet pulled); the next prints are at the new price, which is where the
market closes: a follower, who buys at the new price, gets nothing, so the picker's edge is 0.
A wallet that bought before the market moved (the next prints at its own price, the step an
hour later) keeps its edge. Built as raw chain logs and scored by the real run; the replay reads
the same.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.population import DAY, World
from tests.reputation.test_cases import background, stats
from tests.reputation.test_close_line import HOUR, _closes, _replayed
from tests.reputation.test_incremental_run import close, persisted


async def test_a_stale_pick_earns_a_follower_nothing_an_early_buy_keeps_its_edge(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=97)
    background(w, wallets=10, events=20)
    picker, early = w.new_wallet(), w.new_wallet()
    specs = w.pick(12, binary_only=True)
    for s in specs:
        side = s.winner
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        w.take(s, first, w.new_wallet(), side, 20.0, price=0.40)
        # the early buyer at 0.40, the market still at 0.40 a minute later
        t0 = first + DAY
        w.take(s, t0, early, side, 100.0, price=0.40)
        for k in range(3):
            w.take(s, t0 + 30.0 + 20.0 * k, w.new_wallet(), side, 20.0, price=0.40)
        # an hour later the price steps to 0.44 (three wallets), the picker buys 10 s after at
        # 0.405 and the market trades on at 0.44
        step = t0 + HOUR
        for k in range(3):
            w.take(s, step + k, w.new_wallet(), side, 20.0, price=0.44)
        w.take(s, step + 10.0, picker, side, 100.0, price=0.405)
        for k in range(3):
            w.take(s, step + 40.0 + 20.0 * k, w.new_wallet(), side, 20.0, price=0.44)
        # the close at 0.44: eight takers in the line's last hours
        for k in range(8):
            w.take(s, closes - 5 * HOUR + 1800.0 * k, w.new_wallet(), side, 30.0, price=0.44)
    await w.finish(pool)
    await run_reputation(pool)
    edge, replayed = await _replayed(pool, picker)
    assert edge == pytest.approx(0.0, abs=1e-6)
    assert replayed == pytest.approx(edge, abs=1e-6)
    edge, replayed = await _replayed(pool, early)
    assert edge == pytest.approx((0.44 - 0.40) / 0.40, abs=1e-6)
    assert replayed == pytest.approx(edge, abs=1e-6)


async def test_a_follow_print_stored_later_rescores_the_wallet(pool: asyncpg.Pool) -> None:
    """The picker's follow price is the market's first print by another wallet within the
    order's life after its pick. A print at 0.42 50 seconds after the pick is stored only later
    (a backfill), after the markets resolved: an incremental run rescores the picker, whose
    follow price is now 0.42, as a full run reads it. (Its wash figures move too here, which
    rescores it anyway; the incremental run's rule for resolved tokens with changed fills is
    what rescores a holder whose wash figures stay.)"""
    w = World(seed=98)
    background(w, wallets=10, events=20)
    picker = w.new_wallet()
    specs = w.pick(12, binary_only=True)
    steps = []
    for s in specs:
        side = s.winner
        first = s.opens + 60.0
        closes = _closes(w, s, first)
        w.take(s, first, w.new_wallet(), side, 20.0, price=0.40)
        step = first + 60.0
        steps.append(step)
        w.take(s, step + 10.0, picker, side, 100.0, price=0.405)
        for k in range(8):
            w.take(s, closes - 5 * HOUR + 1800.0 * k, w.new_wallet(), side, 30.0, price=0.44)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = (await stats(pool, picker))["clv_edge"]
    maker = w.new_wallet()
    for s, step in zip(specs, steps, strict=True):  # inside the order's life after the pick
        w.take(s, step + 60.0, w.new_wallet(), s.winner, 20.0, price=0.42, maker=maker)
    await w.chain.ingest(pool)
    again = await run_reputation(pool)
    assert again.incremental and again.rescored > 0
    edge, replayed = await _replayed(pool, picker)
    assert edge == pytest.approx((0.44 - 0.42) / 0.42, abs=1e-6) != before
    assert replayed == pytest.approx(edge, abs=1e-6)
    incremental = await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
