"""Taker fills that are no decision about the outcome do not feed the edge.

A taker fill stamped at or after its market's resolution was taken with the outcome known:
buying the winner at 0.60 from stale orders once the market has resolved is a riskless
redemption, not a forecast, and judged against the payout it read as an edge of +0.67 a dollar
(WHALE, score 9.61, before this test).
"""

from __future__ import annotations

import asyncpg

from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import World, noise_taker
from tests.reputation.test_cases import TOP, stats
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import same_scores, scan_scores


async def _full_equals_incremental(pool: asyncpg.Pool) -> None:
    incremental = await persisted(pool)
    scores = await compute_scores(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), incremental)
    same_scores(await compute_scores(pool), scores)
    same_scores(await scan_scores(pool), scores)


async def _replay_agrees(pool: asyncpg.Pool, rows: list[tuple[str, asyncpg.Record]]) -> None:
    """The per-wallet replay (`orderflow wallet`) leaves the same fills out."""
    for who, row in rows:
        async with pool.acquire() as conn:
            report = await wallet_report(conn, who, stats=row)
        assert report.inputs.events[0] == row["events_resolved"]
        value = await pool.fetchval(
            "SELECT value FROM orderflow_reputation_inputs WHERE wallet_address = $1", who
        )
        assert abs(report.inputs.value[0] - value) < 1e-6


async def test_fills_after_the_resolution_are_no_decisions(pool: asyncpg.Pool) -> None:
    w = World(seed=21)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    honest = w.new_wallet()
    noise_taker(w, honest, 25)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await stats(pool, honest)

    # after every market has resolved: the winner bought at 0.60 from stale orders, by a new
    # wallet and by one with decisions of its own in those markets
    chosen = w.rng.sample(w.specs, 25)
    late = w.new_wallet()
    for s in chosen:
        w.take(s, s.resolves + 600, late, s.winner, 300.0, price=0.60)
        w.take(s, s.resolves + 900, honest, s.winner, 300.0, price=0.60)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental

    s = await stats(pool, late)
    assert s["trader_tier"] not in TOP, (s["trader_tier"], str(s["factors"]["posterior"]))
    assert s["events_resolved"] == 0 and s["trader_tier"] == "NOVICE"
    assert s["wins"] >= 15 and s["losses"] == 0  # its P&L still counts the redemptions
    h = await stats(pool, honest)
    assert h["events_resolved"] == before["events_resolved"]
    assert (
        h["factors"]["posterior"]["outcome_edge"] == before["factors"]["posterior"]["outcome_edge"]
    )
    await _replay_agrees(pool, [(late, s), (honest, h)])
    await _full_equals_incremental(pool)


async def test_a_wallet_matched_against_itself_takes_no_decision(pool: asyncpg.Pool) -> None:
    """A wallet whose taker order fills against its own resting order (maker = taker) trades
    with itself. The counterparty evidence leaves such a match out (no pair), so its price is
    never judged: buying the winner at 0.50 from itself (its resting order buys the loser at
    0.50: the exchange mints the pair) while the market trades it at 0.95 read as an edge of
    +1 a dollar (WHALE, score 9.87, no flag, before this test). The part of a taker order that
    matched the wallet's own orders is no decision."""
    w = World(seed=13)
    for _ in range(15):
        noise_taker(w, w.new_wallet(), 30)
    honest = w.new_wallet()
    noise_taker(w, honest, 25)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await stats(pool, honest)

    # fills that arrive late, stamped before the markets' resolution
    me = w.new_wallet()
    for s in w.rng.sample(w.specs, 25):
        t = s.resolves - 0.05 * (s.resolves - s.opens)
        for dt in (-600.0, 600.0):
            w.take(s, t + dt, w.new_wallet(), s.winner, 50.0, price=0.95)
        w.take(s, t, me, s.winner, 500.0, price=0.50, maker=me)
        # the honest wallet crosses its own resting order at the market's price
        w.take(s, t + 30, honest, s.winner, 100.0, price=0.96, maker=honest)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental

    s = await stats(pool, me)
    assert s["trader_tier"] not in TOP, (s["trader_tier"], str(s["factors"]["posterior"]))
    assert s["events_resolved"] == 0 and s["trader_tier"] == "NOVICE"
    h = await stats(pool, honest)
    assert h["events_resolved"] == before["events_resolved"]
    assert (
        h["factors"]["posterior"]["outcome_edge"] == before["factors"]["posterior"]["outcome_edge"]
    )
    await _replay_agrees(pool, [(me, s), (honest, h)])
    await _full_equals_incremental(pool)
