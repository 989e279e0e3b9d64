"""The tables every hourly run rewrites row by row are vacuumed after every run (migration 118).

An incremental run rewrites the rows of the wallets it rescores, mostly the same active wallets
hour after hour. At autovacuum's default threshold (a fifth of a table) their dead versions
piled up for hours at 1 M wallets and the runs slowed twofold (docs/benchmarks.md "Dead rows
between hourly runs"). Each such table carries a threshold of a hundredth, whether a migration
made it or a full run did (``stored_inputs.save``)."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation, stored_inputs
from orderflow.reputation.detached_lines import CLOSES
from tests.reputation.population import World, skilled_taker

_HUNDREDTH = "autovacuum_vacuum_scale_factor=0.01"
CHURNED = (
    "orderflow_wallet_stats",
    "orderflow_reputation_open",
    "orderflow_reputation_marks",
    "orderflow_wash_wallets",
    stored_inputs.INPUTS,
    stored_inputs.STANDING,
    CLOSES,
)


async def _vacuumed_at(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Each table's autovacuum threshold, as its storage parameters set it (none: [])."""
    rows = await pool.fetch(
        "SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1::text[])"
        " AND relkind = 'r'",
        list(CHURNED),
    )
    return {
        r["relname"]: [o for o in r["reloptions"] or [] if o.startswith("autovacuum_vacuum_")]
        for r in rows
    }


async def test_every_table_an_hourly_run_rewrites_is_vacuumed_at_a_hundredth(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=3, markets=4, neg_risk_events=0, favourites=1, makers=1)
    for _ in range(3):
        skilled_taker(w, w.new_wallet(), 3, 0.5)
    await w.chain.ingest(pool)
    await run_reputation(pool)  # a full run: it makes the kept tables
    assert await _vacuumed_at(pool) == {t: [_HUNDREDTH] for t in CHURNED}
    await run_reputation(pool, full=True)  # made again: the setting with them
    assert await _vacuumed_at(pool) == {t: [_HUNDREDTH] for t in CHURNED}
