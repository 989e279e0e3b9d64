"""A run at the present switches from the incremental path to a full recompute when more than
``incremental_max_share`` of the wallets have changed fills: the same scores either way, and the
switched run leaves the counterparty cells current, so the next hour's run updates them instead
of rebuilding them at its own expense."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.population import World
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_identity import random_population
from tests.reputation.wash_state_step import wash_world

_WASH = "SELECT * FROM orderflow_reputation_wash"
# A row a build of the cells clears (it truncates their tables) and an update keeps.
_MARKER = "INSERT INTO orderflow_wash_tokens VALUES ('marker', 0)"
_KEPT = "SELECT count(*) FROM orderflow_wash_tokens WHERE mk = 'marker'"
_CHANGED = """SELECT (SELECT count(DISTINCT wallet_address)
                        FROM orderflow_position_sums_changes)::float8
                     / (SELECT count(*) FROM orderflow_reputation_inputs)"""


async def _one_fill(w: World, pool: asyncpg.Pool) -> None:
    """A new wallet buys from one of the makers: two wallets with changed fills."""
    s = w.pick(1, binary_only=True)[0]
    w.take(s, s.opens + (s.resolves - s.opens) * 0.5, w.new_wallet(), s.winner, 80.0)
    await w.chain.ingest(pool)


async def _full_equals(pool: asyncpg.Pool) -> None:
    """The stored rows and counterparty evidence are a full recompute's."""
    stats, wash = await persisted(pool), await pool.fetch(_WASH)
    assert (await run_reputation(pool, full=True)).incremental is False
    assert await stored_wash_differs(pool, wash) == 0
    close(stats, await persisted(pool))


async def test_a_change_of_most_wallets_runs_full(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPUTATION_INCREMENTAL_MAX_SHARE", "0.3")
    w = wash_world(6)
    await w.finish(pool)
    first = await run_reputation(pool)
    assert (first.incremental, first.switched, first.changed_share) == (False, False, None)
    quiet = await run_reputation(pool)  # nothing changed: incremental (it builds the cells)
    assert (quiet.incremental, quiet.changed_share) == (True, 0.0)

    await _one_fill(w, pool)
    expected = await pool.fetchval(_CHANGED)
    small = await run_reputation(pool)
    assert small.incremental and not small.switched
    assert small.changed_share == pytest.approx(expected) and 0 < expected < 0.3

    random_population(w, wallets=80, trades=600)  # as many new wallets as half the world
    await w.chain.ingest(pool)
    large = await run_reputation(pool)
    assert large.switched and not large.incremental
    assert large.changed_share is not None and large.changed_share > 0.3
    assert large.rescored == large.wallets
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state"), "cells built"
    assert await pool.fetchval("SELECT valid FROM orderflow_reputation_state")
    await pool.execute(_MARKER)

    await _one_fill(w, pool)
    after = await run_reputation(pool)
    assert after.incremental and not after.switched and 0 < after.rescored < after.wallets
    assert await pool.fetchval(_KEPT) == 1, "the cells the switched run left were updated"
    await _full_equals(pool)


async def test_share_one_never_switches(pool: asyncpg.Pool) -> None:
    """The tests' setting (conftest): every run that can be incremental is."""
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    random_population(w, wallets=40, trades=600)
    await w.chain.ingest(pool)
    run = await run_reputation(pool)
    assert run.incremental and (run.switched, run.changed_share) == (False, None)
    await _full_equals(pool)
