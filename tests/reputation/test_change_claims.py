"""A run takes the changed position sums without holding up the store (migration 030).

A reputation run holds its transaction for as long as it computes (minutes at scale). What it
takes first, the keys whose sums changed since the last run, must not lock anything a writer
needs: the listener stores the same wallets' next fills meanwhile, and a trade has to be
visible to the executor within milliseconds of its block, not after the run. And a full run
after a history import must not rewrite every sums row to forget that it changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from orderflow.reputation import changes, run_reputation
from tests.reputation.population import Spec, World, skilled_taker
from tests.reputation.test_incremental_run import close, persisted

# What a run does first, holding it to its end: an incremental run claims the changes, a full
# run clears them (it reads everything afterwards).
_FIRST_STEPS: dict[str, Callable[[asyncpg.Connection], Awaitable[None]]] = {
    "incremental": lambda conn: changes.claim_changes(conn, datetime.now(UTC)),
    "full": lambda conn: changes.clear(conn, datetime.now(UTC)),
}


class _RunFailed(Exception):
    """The run's transaction ends in a rollback."""


async def _scored(pool: asyncpg.Pool, seed: int, markets: int) -> tuple[World, str, Spec]:
    """A small world stored and scored (every change so far taken): a wallet that bought in one
    market, the market, and three skilled takers around them."""
    w = World(seed=seed, markets=markets, neg_risk_events=0, favourites=1, makers=2)
    wallet = w.new_wallet()
    spec = w.pick(1)[0]
    w.take(spec, spec.opens + 60, wallet, 0, 100.0)
    for _ in range(3):
        skilled_taker(w, w.new_wallet(), 3, 0.5)
    await w.chain.ingest(pool)
    await run_reputation(pool)
    return w, wallet, spec


@pytest.mark.parametrize("ends", ["commit", "rollback"])
@pytest.mark.parametrize("kind", sorted(_FIRST_STEPS))
async def test_the_store_never_waits_for_a_run_holding_the_changes(
    pool: asyncpg.Pool, kind: str, ends: str
) -> None:
    w, wallet, spec = await _scored(pool, seed=43, markets=8)
    w.take(spec, spec.opens + 120, wallet, 0, 50.0)  # the same (wallet, token) changes
    await w.chain.ingest(pool)

    try:
        async with pool.acquire() as run, run.transaction():
            await _FIRST_STEPS[kind](run)
            # while the run holds what it took, the same key's next fill is stored at once
            w.take(spec, spec.opens + 180, wallet, 0, 25.0)
            await asyncio.wait_for(w.chain.ingest(pool), timeout=10)
            if ends == "rollback":
                raise _RunFailed
    except _RunFailed:
        pass

    async with pool.acquire() as conn:
        assert await changes.changed_share(conn, 1.0) > 0  # the fill stored meanwhile
    if ends == "rollback":  # what the failed run took was given back: nothing is lost
        assert (await run_reputation(pool)).incremental
        incremental_rows = await persisted(pool)
        await run_reputation(pool, full=True)
        close(await persisted(pool), incremental_rows)


@pytest.mark.parametrize("kind", sorted(_FIRST_STEPS))
async def test_a_resolution_never_waits_for_a_run_holding_the_marked_markets(
    pool: asyncpg.Pool, kind: str
) -> None:
    """A market marked before the run (its condition stored, say) resolves while the run holds
    what it took: the resolution's own mark of the same market is stored at once, and the next
    run rescores its holders."""
    w, _holder, spec = await _scored(pool, seed=45, markets=6)
    await pool.execute(
        "INSERT INTO orderflow_reputation_dirty_markets (market_id) VALUES ($1)",
        spec.market.condition_id,
    )
    async with pool.acquire() as run, run.transaction():
        await _FIRST_STEPS[kind](run)  # the market's mark taken, held to the run's end
        w.chain.resolve(spec.market, spec.resolves, spec.winner)
        await asyncio.wait_for(w.chain.ingest(pool), timeout=10)

    marked = "SELECT count(*) FROM orderflow_reputation_dirty_markets WHERE market_id = $1"
    assert await pool.fetchval(marked, spec.market.condition_id) == 1
    summary = await run_reputation(pool)
    assert summary.incremental and summary.rescored >= 1  # the holder, whose market resolved
    assert await pool.fetchval(marked, spec.market.condition_id) == 0


async def test_a_full_run_rewrites_no_sums_row(pool: asyncpg.Pool) -> None:
    """The first run after an import clears every key's change without writing the sums (the
    sums of a real history are hundreds of millions of rows)."""
    w = World(seed=44, markets=10, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(8):
        skilled_taker(w, w.new_wallet(), 4, 0.5)
    await w.finish(pool)
    versions = "SELECT wallet_address, token_id, xmin::text FROM orderflow_position_sums"
    before = {(r[0], r[1]): r[2] for r in await pool.fetch(versions)}
    assert before
    await run_reputation(pool, full=True)
    after = {(r[0], r[1]): r[2] for r in await pool.fetch(versions)}
    assert after == before
    assert (await run_reputation(pool)).rescored == 0  # and every change was taken
