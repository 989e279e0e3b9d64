"""``wallet_sql.posterior_figure_json(key)`` reads what the factors JSON shows at
``posterior.<key>`` -- for a row with figures (from ``factor_figures``) and for a row whose JSON
was stored whole (``factors_stored``) -- for every key of the block.

Until 7 Dec 2026 the key was a figure's name (scores_sql.FIGURES) used as the JSON's key too: the
JSON calls the record's own edge ``measured`` (its figure ``edge_raw``), its sd ``sd``
(``edge_se``), so ``posterior_figure_json("measured")`` was refused and
``posterior_figure_json("edge_raw")`` read NULL from a stored JSON."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from orderflow.reputation.wallet_sql import POSTERIOR_KEYS, posterior_figure_json
from tests.reputation.population import World, noise_taker, skilled_taker

_READ = """
SELECT s.wallet_address, orderflow_factors(s) -> 'posterior' AS block, {figures}
  FROM orderflow_wallet_stats w
 CROSS JOIN LATERAL orderflow_wallet_read(w) AS s
 WHERE s.factors_stored IS NOT NULL OR s.factor_figures IS NOT NULL
 ORDER BY 1
"""


async def _read(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    figures = ", ".join(f"{posterior_figure_json(k)} AS f{i}" for i, k in enumerate(POSTERIOR_KEYS))
    return list(await pool.fetch(_READ.format(figures=figures)))


def _check(rows: list[asyncpg.Record]) -> int:
    """Each figure read is the JSON's at its key; returns the figures compared that are not
    null."""
    seen = 0
    for r in rows:
        block = r["block"]
        assert set(block) == set(POSTERIOR_KEYS), set(block) ^ set(POSTERIOR_KEYS)
        for i, key in enumerate(POSTERIOR_KEYS):
            read = r[f"f{i}"]  # jsonb, decoded by the pool's codec
            assert read == block[key], (r["wallet_address"], key, read, block[key])
            seen += read is not None
    return seen


async def test_each_posterior_key_reads_the_jsons_figure(pool: asyncpg.Pool) -> None:
    w = World(seed=57, markets=24, neg_risk_events=0, favourites=2, makers=3)
    for i in range(12):
        who = w.new_wallet()
        if i % 2:
            skilled_taker(w, who, 10, 0.25, usd=150.0)
        else:
            noise_taker(w, who, 10, usd=150.0)
    await w.finish(pool)
    await run_reputation(pool)
    rows = await _read(pool)
    assert len(rows) > 5
    assert _check(rows) > 5 * len(POSTERIOR_KEYS)
    # the same rows as an older release stored them: the JSON whole, no figures
    await pool.execute(
        "UPDATE orderflow_wallet_stats w SET factors_stored = orderflow_factors(w),"
        " factor_figures = NULL WHERE factor_figures IS NOT NULL"
    )
    stored = await _read(pool)
    assert [r["block"] for r in stored] == [r["block"] for r in rows]
    assert _check(stored) > 5 * len(POSTERIOR_KEYS)
