"""One step of ``test_wash_state``'s closure: the stored counterparty cells built or updated,
``rep_wash`` assembled from them beside ``WASH``'s over the same trades in the same transaction,
both read to the last bit (:func:`wash_step`); and the populations those tests change
(:func:`wash_world`). Test helpers only."""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow.reputation import ReputationSettings, wash_assemble, wash_state
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import World
from tests.reputation.test_wash_identity import random_population, wash_population

Rows = dict[tuple[str, Any], tuple[Any, ...]]

STORED = "test_wash_stored"  # rep_wash as the last step left it (orderflow_reputation_wash)
THIN = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address"""


# The position sums changed since the last step, claimed as an incremental run claims them: only
# those wallets' share volumes are compared (orderflow.reputation.wash_tot).
CLAIM = """CREATE TEMP TABLE test_claimed ON COMMIT DROP AS
WITH d AS (DELETE FROM orderflow_position_sums_changes RETURNING wallet_address)
SELECT DISTINCT wallet_address FROM d"""
CLAIMED = "SELECT wallet_address FROM test_claimed"


def _bits(v: Any) -> Any:
    return v.hex() if isinstance(v, float) else v


async def wash_rows(conn: asyncpg.Connection) -> Rows:
    rows = await conn.fetch("SELECT * FROM rep_wash")
    out = {(r["wallet_address"], r["token_id"]): tuple(_bits(v) for v in r.values()) for r in rows}
    assert len(out) == len(rows)
    await conn.execute("DROP TABLE rep_wash")
    return out


async def wash_step(
    pool: asyncpg.Pool, settings: ReputationSettings, build: bool = False
) -> tuple[Rows, Rows, int]:
    """Build or update the cells; ``rep_wash`` assembled from them, ``WASH``'s, and the number of
    wallets whose verdict flipped (an update; -1: the update found its cells inconsistent)."""
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(CLAIM)
        await conn.execute(THIN)
        if build:
            await wash_state.begin(conn)
            await wash_state.build(conn, as_of, settings)
            await wash_assemble.assemble(conn, as_of, settings)
            flipped = 0
        else:
            consistent = await wash_state.update(conn, as_of, settings, CLAIMED)
            flipped = await conn.fetchval("SELECT count(*) FROM rep_wash_f")
            if not consistent:
                return {}, {}, -1
            # the rows of the wallets that can have changed, the others as the last step left
            await wash_assemble.assemble(conn, as_of, settings, stored=STORED)
        stored = await wash_rows(conn)
        await conn.execute(WASH, as_of, *wash_settings(settings))
        await conn.execute(f"DROP TABLE IF EXISTS {STORED}")
        await conn.execute(f"CREATE TABLE {STORED} AS SELECT * FROM rep_wash")
        full = await wash_rows(conn)
    return stored, full, flipped


def differing_rows(a: Rows, b: Rows) -> int:
    return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def wash_world(seed: int) -> World:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    wash_population(w)
    return w
