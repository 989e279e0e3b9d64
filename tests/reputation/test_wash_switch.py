"""An incremental run's switch between updating the stored counterparty evidence and rebuilding
it (``orderflow.reputation.wash_state.REBUILD_SHARE``): either branch stores a full run's
evidence, row for row and bit for bit; a small change updates the cells, a large one rebuilds
them."""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import run_reputation, wash_state
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_identity import random_population
from tests.reputation.wash_state_changes import new_fills, ring_forms, turns_off_market
from tests.reputation.wash_state_step import wash_world

_WASH = "SELECT * FROM orderflow_reputation_wash"
# A row a build clears (it truncates the tables) and an update keeps.
_MARKER = "INSERT INTO orderflow_wash_tokens VALUES ('marker', 0)"
_KEPT = "SELECT count(*) FROM orderflow_wash_tokens WHERE mk = 'marker'"


async def _share(pool: asyncpg.Pool) -> float:
    async with pool.acquire() as conn:
        last = await conn.fetchval("SELECT last_id FROM orderflow_wash_state")
        top = await conn.fetchval("SELECT max(id) FROM orderflow_trades")
        return await wash_state.changed_share(conn, last, top)


async def _cells_built(pool: asyncpg.Pool) -> None:
    """A live full run, then the first incremental run (it builds the cells)."""
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    await pool.execute(_MARKER)


@pytest.mark.parametrize("rebuild_share", [0.0, math.inf], ids=["rebuild", "update"])
async def test_either_branch_stores_a_full_runs_evidence(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, rebuild_share: float
) -> None:
    w = wash_world(6)
    await w.finish(pool)
    await _cells_built(pool)
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", rebuild_share)
    for change in (new_fills, turns_off_market, ring_forms):
        await change(w, pool)
        assert await _share(pool) > 0
        assert (await run_reputation(pool)).incremental
        assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
        assert (await pool.fetchval(_KEPT) == 1) == (rebuild_share == math.inf), "updated"
    incremental, stats = await pool.fetch(_WASH), await persisted(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
    close(stats, await persisted(pool))


async def test_a_large_change_rebuilds_the_cells(pool: asyncpg.Pool) -> None:
    """With the default share: an hour's few fills update the cells, more new trading than the
    history held rebuilds them; the evidence is a full run's."""
    w = wash_world(6)
    await w.finish(pool)
    await _cells_built(pool)
    await new_fills(w, pool)
    assert 0 < await _share(pool) < wash_state.REBUILD_SHARE
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval(_KEPT) == 1, "updated"

    random_population(w, wallets=40, trades=2500)
    await w.chain.ingest(pool)
    assert await _share(pool) > max(0.5, wash_state.REBUILD_SHARE)
    assert (await run_reputation(pool)).incremental
    assert await pool.fetchval(_KEPT) == 0, "rebuilt"
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    incremental = await pool.fetch(_WASH)
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
