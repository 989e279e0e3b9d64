"""A token's closing line is not one pair's print (orderflow.reputation.line_sql).

Honest long-shot takers buy in markets that trade at a stable price (the long shot at 0.05, the
favourite at 0.95) up to and past each token's closing time; just before it, a wash pair prints
the long shot at 0.50 between themselves, both ways. A closing line that is the last print from
anyone is the pair's: every honest holder's closing-line value read +9 a dollar (both cases
failed so until 5 Dec 2026). Built as raw chain logs and scored by the real run (and the
per-wallet replay, which reads its own lines). tests/reputation/test_close_line.py holds the
cases where the line must still move: a real move at the close, a thin token.
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import Spec, World
from tests.reputation.test_cases import TOP, background, stats
from tests.reputation.test_incremental_run import close, persisted

HORIZON = 0.8  # ReputationSettings.clv_horizon's default


def _world(seed: int) -> tuple[World, list[str], list[str], list[tuple[Spec, float]]]:
    w = World(seed=seed)
    background(w, wallets=10, events=20)
    honest = [w.new_wallet() for _ in range(6)]
    pair = [w.new_wallet(), w.new_wallet()]
    closing: list[tuple[Spec, float]] = []
    for s in w.pick(30, binary_only=True):
        loser, winner = 1 - s.winner, s.winner
        span = s.resolves - s.opens
        first = s.opens + 60.0  # the token's first trade: its closing time is measured from it
        w.take(s, first, w.new_wallet(), loser, 20.0, price=0.05)
        w.take(s, first + 5, w.new_wallet(), winner, 20.0, price=0.95)
        closes = first + (s.resolves - first) * HORIZON
        closing.append((s, closes))
        for i, who in enumerate(honest):
            t = s.opens + span * (0.1 + 0.08 * i)
            w.take(s, t, who, loser, 100.0 * w.rng.uniform(0.5, 1.5), price=0.05)
        # the market up to its close: other takers on both sides at the same prices
        for k in range(8):
            t = closes - 3 * 3600.0 + 1200.0 * k
            w.take(s, t, w.new_wallet(), loser, 30.0, price=0.05)
            w.take(s, t + 30, w.new_wallet(), winner, 30.0, price=0.95)
        # the pair, off the market, in the last minutes before the close
        w.take(s, closes - 120.0, pair[0], loser, 200.0, price=0.50, maker=pair[1])
        w.take(s, closes - 60.0, pair[1], loser, 200.0, price=0.50, maker=pair[0])
        # and the market after the close, where it was
        for k in range(3):
            w.take(s, closes + 600.0 * (k + 1), w.new_wallet(), loser, 30.0, price=0.05)
    return w, honest, pair, closing


async def test_a_wash_pair_does_not_set_the_honest_holders_closing_line(
    pool: asyncpg.Pool,
) -> None:
    w, honest, _, _ = _world(seed=81)
    await w.finish(pool)
    await run_reputation(pool)
    for who in honest:
        s = await stats(pool, who)
        # bought at the market's price, which it still was at the close: no closing-line edge
        assert abs(s["clv_edge"]) < 0.05, (who, s["clv_edge"], s["trader_tier"])
        assert s["trader_tier"] not in TOP
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=s)
        replayed = report.inputs.clv_value[0] / report.inputs.stake[0]
        assert abs(replayed - s["clv_edge"]) < 1e-3, (who, replayed, s["clv_edge"])


async def test_a_pair_flooding_the_close_takes_the_line_away_and_sets_none(
    pool: asyncpg.Pool,
) -> None:
    """The pair prints 70 times between themselves before each close, after a first run: more
    rows than a line reads back, every one theirs. The holders' line is gone (judged by the
    outcome), never the pair's 0.50; the incremental run makes what a full one does."""
    w, honest, pair, closing = _world(seed=82)
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    first = await run_reputation(pool)
    assert not first.incremental
    for s, closes in closing:
        for k in range(70):
            taker, maker = (pair[0], pair[1]) if k % 2 else (pair[1], pair[0])
            w.take(s, closes - 3000.0 + 10.0 * k, taker, 1 - s.winner, 50.0, price=0.5, maker=maker)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental
    for who in honest:
        s = await stats(pool, who)
        # no line: the decisions are valued at the outcome (lost: -1 a dollar), never at 0.50
        assert s["clv_edge"] < 0.05, (who, s["clv_edge"])
        assert s["trader_tier"] not in TOP
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=s)
        replayed = report.inputs.clv_value[0] / report.inputs.stake[0]
        assert abs(replayed - s["clv_edge"]) < 1e-3, (who, replayed, s["clv_edge"])
    incremental = await persisted(pool)
    third = await run_reputation(pool, full=True)
    assert not third.incremental
    close(await persisted(pool), incremental)
