"""A closes table stored before ``whole`` (detached_lines.KEEP): the first run after the upgrade
is a full one (the fingerprint moved with the statements) and counts every stored line whole,
as the rule before the column had it: a detached month keeps the lines its fills made, and the
run stores the column again."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.test_wash_partitions import _detach
from tests.reputation.wash_state_step import wash_world

_CLOSES = "SELECT * FROM orderflow_reputation_closes ORDER BY token_id"


async def test_a_table_stored_before_whole(pool: asyncpg.Pool) -> None:
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    lines = [tuple(r) for r in await pool.fetch(_CLOSES)]
    assert sum(1 for r in lines if r[2] is not None) > 10  # closing lines (close_at)
    # as an older release stored it
    await pool.execute("ALTER TABLE orderflow_reputation_closes DROP COLUMN whole")
    await pool.execute("UPDATE orderflow_reputation_state SET fingerprint = 'before whole'")

    await _detach(pool, by_hand=False)
    assert not (await run_reputation(pool)).incremental
    assert [tuple(r) for r in await pool.fetch(_CLOSES)] == lines
