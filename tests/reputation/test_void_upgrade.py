"""The stored ``rep_void`` rows of a version that lacked an amount are read after the upgrade.

``detached_void.VOIDS`` is made by ``CREATE TABLE … AS`` from ``rep_void`` at a live full run, and
read by every run at the present (``detached_void.keep``) before a full run rewrites it. An
upgrade that adds an amount to ``rep_void`` (the gross amounts of 6 Dec 2026, the decisions after
the close the same day) met a stored table without it: the first run after the upgrade, a full
one (the scoring fingerprint moved), failed reading it (``column v.post_tb does not exist``)
and so did every run after it. Now the missing amounts are added as 0 (the stored row knew none
of them), and the run goes on."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import detached_void, run_reputation
from tests.reputation.population import World, noise_taker

_NEW = ("post_tb", "post_tcb", "post_ts", "post_tr")


async def _columns(pool: asyncpg.Pool) -> set[str]:
    rows = await pool.fetch(
        "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
        " AND NOT attisdropped",
        detached_void.VOIDS,
    )
    return {r["attname"] for r in rows}


async def test_a_stored_table_without_the_new_amounts_is_read(pool: asyncpg.Pool) -> None:
    w = World(seed=23, markets=40)
    for _ in range(8):
        noise_taker(w, w.new_wallet(), 20)
    late = w.new_wallet()
    for s in w.specs[:10]:  # the winner bought from stale orders once resolved: stored rows
        w.take(s, s.resolves + 600, late, s.winner, 100.0, price=0.60)
    await w.finish(pool)
    await run_reputation(pool, full=True)
    assert set(_NEW) <= await _columns(pool)
    # the table as the version before stored it
    await pool.execute(
        f"ALTER TABLE {detached_void.VOIDS} " + ", ".join(f"DROP COLUMN {c}" for c in _NEW)
    )
    for full in (False, True):  # a run at the present reads it; a full run rewrites it
        await run_reputation(pool, full=full)
        assert set(_NEW) <= await _columns(pool)
    assert await pool.fetchval(f"SELECT count(*) FROM {detached_void.VOIDS}") >= 10
