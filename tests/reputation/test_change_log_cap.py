"""The log of changed position sums (migration 030) has a bound when no reputation run takes it
(migration 053): past ``max_rows`` rows the listener's cap drops it, with the keys it left
without fills, and marks the stored inputs invalid, so the next run is a full one (it needs no
log) and the runs after it are incremental again — the scores a full recompute gives."""

from __future__ import annotations

import asyncpg

from orderflow.chain.ingest import ingest_logs
from orderflow.chain.pending_sums import cap_changes
from orderflow.reputation import run_reputation
from orderflow.reputation.run import RUN_LOCK_KEY
from tests.reputation.chainbook import _key
from tests.reputation.population import World
from tests.reputation.test_full_switch import _full_equals, _one_fill
from tests.reputation.test_wash_identity import random_population
from tests.reputation.test_wash_state import _rollback, _world

_LOG = "SELECT count(*) FROM orderflow_position_sums_changes"
_EMPTY = "SELECT count(*) FROM orderflow_position_sums WHERE fills = 0"
_VALID = "SELECT valid FROM orderflow_reputation_state"


async def _as_listened(w: World, pool: asyncpg.Pool) -> None:
    """New fills stored a few at a time, as the live listener stores a block or two a batch."""
    random_population(w, wallets=30, trades=300)
    ordered = [log for _, log in sorted(w.chain.logs, key=lambda x: (x[0], _key(x[1])))]
    await ingest_logs(pool, ordered, chain_id=137, batch_size=5)
    w.chain.logs.clear()


async def _scored_world(pool: asyncpg.Pool) -> World:
    """A world with stored inputs (a full run, then an incremental one) and a log of changes."""
    w = _world(3)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental
    await _as_listened(w, pool)
    return w


async def test_a_log_past_its_bound_is_dropped_and_the_next_run_is_full(
    pool: asyncpg.Pool,
) -> None:
    w = await _scored_world(pool)
    await _rollback(w, pool)  # a reorg: keys left without fills, found only from the log
    rows, empty = await pool.fetchval(_LOG), await pool.fetchval(_EMPTY)
    assert rows > 100 and empty > 0

    async with pool.acquire() as conn:
        assert await cap_changes(conn, rows // 2) == rows
    assert (await pool.fetchval(_LOG), await pool.fetchval(_EMPTY)) == (0, 0)
    assert await pool.fetchval(_VALID) is False

    after = await run_reputation(pool)
    assert not after.incremental and after.rescored == after.wallets
    await _full_equals(pool)
    await _one_fill(w, pool)  # the runs after it are incremental again, and exact
    assert (await run_reputation(pool)).incremental
    await _full_equals(pool)


async def test_a_log_within_its_bound_is_kept(pool: asyncpg.Pool) -> None:
    w = await _scored_world(pool)
    rows = await pool.fetchval(_LOG)
    async with pool.acquire() as conn:
        for bound in (rows, 0):  # at the bound; 0: never dropped
            assert await cap_changes(conn, bound) == 0
    assert await pool.fetchval(_LOG) == rows and await pool.fetchval(_VALID)
    assert (await run_reputation(pool)).incremental
    await _full_equals(pool)
    assert w.chain.logs == []


async def test_a_run_in_progress_keeps_the_log_and_the_cap_waits_for_nothing(
    pool: asyncpg.Pool,
) -> None:
    await _scored_world(pool)
    rows = await pool.fetchval(_LOG)
    async with pool.acquire() as run, run.transaction():
        assert await run.fetchval("SELECT pg_try_advisory_xact_lock($1)", RUN_LOCK_KEY)
        async with pool.acquire() as conn:
            await conn.execute("SET statement_timeout = '5s'")
            assert await cap_changes(conn, 1) == 0
    assert await pool.fetchval(_LOG) == rows and await pool.fetchval(_VALID)
    async with pool.acquire() as conn:
        assert await cap_changes(conn, 1) == rows
