"""The change logs a reputation run takes (the changed position sums of migration 030, the marked
markets, tokens and wallet rows, WASH's changed trades) have a bound when no run takes them
(migrations 053, 057): past ``max_rows`` rows in any, the listener's cap truncates them all and
records the overflow, so the next run is a full one (it needs no log), switched as for a large
change: it drops the keys a reorg left without fills and builds the counterparty cells; the runs
after it are incremental again — the scores a full recompute gives."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.chain.pending_sums import cap_changes
from orderflow.reputation import run_reputation
from orderflow.reputation.run import RUN_LOCK_KEY
from tests.reputation.chainbook import _key
from tests.reputation.population import World
from tests.reputation.test_full_switch import _KEPT, _MARKER, _full_equals, _one_fill
from tests.reputation.test_wash_identity import random_population
from tests.reputation.wash_state_changes import rollback
from tests.reputation.wash_state_step import wash_world

_LOG = "SELECT count(*) FROM orderflow_position_sums_changes"
_EMPTY = "SELECT count(*) FROM orderflow_position_sums WHERE fills = 0"
_VALID = "SELECT valid FROM orderflow_reputation_state"
_OVERFLOWED = "SELECT overflowed FROM orderflow_reputation_state"
_CHANGES = "orderflow_position_sums_changes"


async def _as_listened(w: World, pool: asyncpg.Pool) -> None:
    """New fills stored a few at a time, as the live listener stores a block or two a batch."""
    random_population(w, wallets=30, trades=300)
    ordered = [log for _, log in sorted(w.chain.logs, key=lambda x: (x[0], _key(x[1])))]
    await ingest_logs(pool, ordered, chain_id=137, batch_size=5)
    w.chain.logs.clear()


async def _scored_world(pool: asyncpg.Pool) -> World:
    """A world with stored inputs (a full run, then an incremental one) and a log of changes."""
    w = wash_world(3)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental
    await _as_listened(w, pool)
    return w


async def test_a_log_past_its_bound_is_dropped_and_the_next_run_is_full(
    pool: asyncpg.Pool,
) -> None:
    w = await _scored_world(pool)
    await rollback(w, pool)  # a reorg: keys left without fills, found only from the log
    rows, empty = await pool.fetchval(_LOG), await pool.fetchval(_EMPTY)
    assert rows > 100 and empty > 0

    async with pool.acquire() as conn:
        assert _CHANGES in await cap_changes(conn, rows // 2)
    assert await pool.fetchval(_LOG) == 0
    assert await pool.fetchval(_OVERFLOWED) and await pool.fetchval(_VALID)

    after = await run_reputation(pool)
    assert not after.incremental and after.rescored == after.wallets
    assert after.switched and after.overflowed and after.changed_share is None
    # the keys the reorg left without fills, which no log names any more: dropped by the run
    assert (await pool.fetchval(_EMPTY), await pool.fetchval(_OVERFLOWED)) == (0, False)
    await _full_equals(pool)
    await _one_fill(w, pool)  # the runs after it are incremental again, and exact
    assert (await run_reputation(pool)).incremental
    await _full_equals(pool)


async def test_a_log_within_its_bound_is_kept(pool: asyncpg.Pool) -> None:
    w = await _scored_world(pool)
    rows = await pool.fetchval(_LOG)
    async with pool.acquire() as conn:
        for bound in (rows, 0):  # at the bound; 0: never dropped
            assert await cap_changes(conn, bound) == []
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
            assert await cap_changes(conn, 1) == []
    assert await pool.fetchval(_LOG) == rows and await pool.fetchval(_VALID)
    async with pool.acquire() as conn:
        assert await cap_changes(conn, 1) == [_CHANGES]
    assert await pool.fetchval(_LOG) == 0


async def test_the_run_after_a_drop_leaves_the_cells_a_switched_run_leaves(
    pool: asyncpg.Pool,
) -> None:
    """The full run the cap forces is a switch like the one for a large change
    (test_full_switch.py): it builds the counterparty cells, so the next incremental run
    updates them instead of rebuilding them (≈ 3 x WASH) at its own expense."""
    w = await _scored_world(pool)
    rows = await pool.fetchval(_LOG)
    async with pool.acquire() as conn:
        assert await cap_changes(conn, rows // 2) == [_CHANGES]
    after = await run_reputation(pool)
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state"), "cells built"
    assert not after.incremental and after.switched and after.rescored == after.wallets
    assert await pool.fetchval(_VALID)
    await pool.execute(_MARKER)
    await _one_fill(w, pool)
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval(_KEPT) == 1, "the cells the full run left were updated"
    await _full_equals(pool)


# Each other change log a run takes (markets, tokens, touched rows, WASH's changed rows), given
# rows by a statement that marks it, as resolutions, registry changes, writes by hand and
# refunds do; every mark is appended (no unique key: migration 030) and taken once by a run.
_OTHER_LOGS = {
    "orderflow_reputation_dirty_markets": (
        "UPDATE orderflow_market_outcomes SET resolved_at = resolved_at"
    ),
    "orderflow_reputation_dirty_tokens": "UPDATE orderflow_tokens SET source = source",
    "orderflow_reputation_touched": """UPDATE orderflow_wallet_stats SET flags = flags
         WHERE wallet_address = (SELECT min(wallet_address) FROM orderflow_wallet_stats)""",
    "orderflow_wash_dirty": """UPDATE orderflow_trades SET fee = fee + 1
         WHERE id = (SELECT min(id) FROM orderflow_trades WHERE is_taker_aggregate)""",
}
_BOUND = 40


@pytest.mark.parametrize("table", list(_OTHER_LOGS))
async def test_every_change_log_is_bounded(pool: asyncpg.Pool, table: str) -> None:
    """Not only the log of changed sums: any log a run takes grows while no run takes it (with
    resolutions, registry changes, reorgs, refunds, writes by hand); past the bound it is
    dropped with the others and the next run is a full one, equal to ``--full``."""
    w = await _scored_world(pool)
    assert (await run_reputation(pool)).incremental  # every log taken
    await pool.execute(_OTHER_LOGS[table])
    while (rows := await pool.fetchval(f"SELECT count(*) FROM {table}")) <= _BOUND:
        assert rows > 0, "the statement marks the log"
        await pool.execute(f"INSERT INTO {table} SELECT * FROM {table}")  # marked again
    assert await pool.fetchval(_LOG) <= _BOUND, "the log of changed sums within the bound"

    async with pool.acquire() as conn:
        assert await cap_changes(conn, _BOUND) == [table]
    assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    after = await run_reputation(pool)
    assert not after.incremental and after.overflowed and after.rescored == after.wallets
    await _full_equals(pool)
    await _one_fill(w, pool)
    assert (await run_reputation(pool)).incremental
    await _full_equals(pool)
