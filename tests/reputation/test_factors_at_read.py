"""The factors JSON built when read (migration 020: ``orderflow_factors`` over the figures a run
stores) is the JSON runs built and stored before: the same text -- keys, values, number
formatting -- for every wallet of a world with every behaviour, in the history snapshots and in
``compute_scores``' results, after a full run and after an incremental one; in
``orderflow_wallet_stats`` and the readers (``orderflow wallet``, the executor's wallet views),
whose population-dependent figures are computed when read (migration 022), the same but for the
last bits of the probabilities and the volume factor (:mod:`tests.reputation.read_figures`). The
reference is a frozen copy of the statement that built it
(:mod:`tests.reputation.factors_frozen`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings, compute_scores, run_reputation, scores_sql
from orderflow.reputation.run import _build
from orderflow.reputation.wallet_sql import FIGURE_COLUMNS, WALLET_STATS
from orderflow.signals.queries import wallet_views
from tests.reputation.factors_frozen import frozen_factors
from tests.reputation.population import (
    World,
    edge_taker,
    lucky,
    noise_taker,
    penny_picker,
    skilled_taker,
    wash_ring,
)
from tests.reputation.read_figures import json_close, texts_close

_STORED = """
SELECT wallet_address, orderflow_factors(s)::text AS factors
  FROM orderflow_wallet_stats s WHERE computed_at IS NOT NULL
"""

# The snapshots the last run wrote.
_SNAPSHOTS = """
SELECT wallet_address, orderflow_factors(h)::text AS factors
  FROM orderflow_reputation_history h
 WHERE computed_at = (SELECT max(computed_at) FROM orderflow_reputation_history)
"""


async def _frozen(
    pool: asyncpg.Pool, settings: ReputationSettings, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Every wallet's JSON by the frozen statement, over a full build of the last run's data as
    of its cut-off (rolled back); checks on the way that ``rep_final``'s figures give it too."""
    seen: dict[str, Any] = {}
    real = scores_sql.final_view

    def spy(
        weights: dict[str, float], cost: float, prior: Any, wallets: str = "rep_wallets"
    ) -> str:
        seen.update(weights=weights, cost=cost, prior=prior)
        return real(weights, cost, prior, wallets)

    monkeypatch.setattr(scores_sql, "final_view", spy)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            as_of = await conn.fetchval("SELECT as_of FROM orderflow_reputation_state")
            assert isinstance(as_of, datetime)
            await _build(conn, as_of, settings, stored=True)
            frozen = {
                r["wallet_address"]: r["factors"]
                for r in await conn.fetch(
                    f"SELECT wallet_address, factors::text AS factors"
                    f" FROM ({frozen_factors(seen['weights'], seen['cost'], seen['prior'])}) x"
                )
            }
            built = {
                r["wallet_address"]: r["factors"]
                for r in await conn.fetch(
                    f"SELECT f.wallet_address, {scores_sql.FACTORS}::text AS factors"
                    " FROM rep_final f"
                )
            }
        finally:
            await tx.rollback()
    monkeypatch.undo()
    assert built == frozen
    return frozen


async def _texts(pool: asyncpg.Pool, sql: str) -> dict[str, str]:
    return {r["wallet_address"]: r["factors"] for r in await pool.fetch(sql)}


async def _same_everywhere(pool: asyncpg.Pool, frozen: dict[str, str], *, snapshots: int) -> None:
    texts_close(await _texts(pool, _STORED), frozen)
    history = await _texts(pool, _SNAPSHOTS)
    assert len(history) == snapshots
    assert history == {a: frozen[a] for a in history}
    scores = await compute_scores(pool)
    assert {a: s.factors for a, s in scores.items()} == {
        a: json.loads(t) for a, t in frozen.items()
    }
    views = await wallet_views(pool, frozen)
    assert {a: v.follower_cost for a, v in views.items()} == {
        a: json.loads(t)["posterior"]["follower_cost"] for a, t in frozen.items()
    }
    async with pool.acquire() as conn:
        for address in list(frozen)[:5]:
            row = await conn.fetchrow(WALLET_STATS, address)
            assert row is not None
            json_close(row["factors"], frozen[address])


async def test_json_at_read_is_the_json_runs_stored(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ReputationSettings()
    w = World(seed=43, markets=40, neg_risk_events=0, favourites=10, makers=3)
    specs = list(w.specs)
    early, late = specs[: len(specs) * 2 // 3], specs[len(specs) * 2 // 3 :]
    w.specs = early
    for _ in range(10):
        noise_taker(w, w.new_wallet(), 12)
    for i in range(6):
        skilled_taker(w, w.new_wallet(), 12, 0.2 + 0.1 * i)
    for _ in range(3):
        penny_picker(w, w.new_wallet(), 10)
    lucky(w, w.new_wallet())
    showcase, partners = w.new_wallet(), [w.new_wallet() for _ in range(3)]
    wash_ring(w, showcase, partners, 12)
    w.specs = late
    for _ in range(6):
        edge_taker(w, w.new_wallet(), 8, 0.1, usd=300.0)
    w.specs = specs
    for s in early:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)

    first = await run_reputation(pool, settings=settings)
    assert not first.incremental
    frozen = await _frozen(pool, settings, monkeypatch)
    await _same_everywhere(pool, frozen, snapshots=first.wallets)
    # the world exercises every kind of value: flags, the counterparty addresses, NULLs
    values = [json.loads(t) for t in frozen.values()]
    assert any(v["flags"] for v in values)
    assert any(v["behaviour"]["top_counterparty"] for v in values)
    assert any(v["behaviour"]["wash_host"] for v in values)
    assert any(v["behaviour"]["price_deviation"] is not None for v in values)
    assert any(v["behaviour"]["price_deviation"] is None for v in values)

    for s in late:  # the prior moves: every wallet's posterior (computed when read)
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    second = await run_reputation(pool, settings=settings)
    assert second.incremental and 0 < second.rescored < second.wallets
    assert second.history_rows > 0
    await _same_everywhere(
        pool, await _frozen(pool, settings, monkeypatch), snapshots=second.history_rows
    )


async def test_json_stored_before_the_migration_is_read_until_rewritten(
    pool: asyncpg.Pool,
) -> None:
    """A row written before migration 020 holds its JSON in ``factors_stored`` and no figures:
    readers get that JSON; the next run that rewrites the row replaces it by the figures."""
    w = World(seed=44, markets=12, neg_risk_events=1, favourites=2, makers=2)
    for i in range(8):
        skilled_taker(w, w.new_wallet(), 5, 0.1 * i)
    await w.finish(pool)
    await run_reputation(pool)
    now = await _texts(pool, _STORED)
    legacy = {
        a: json.dumps({"an": "older JSON", "of": a, "posterior": {"follower_cost": 0.0123}})
        for a in now
    }
    cleared = ", ".join(f"{c} = NULL" for c in FIGURE_COLUMNS if c != "factors_stored")
    for table in ("orderflow_wallet_stats", "orderflow_reputation_history"):
        await pool.execute(
            f"UPDATE {table} SET factors_stored = ($1::jsonb ->> wallet_address::text)::jsonb,"
            f" {cleared}",
            legacy,
        )
    assert {a: json.loads(t) for a, t in (await _texts(pool, _STORED)).items()} == {
        a: json.loads(t) for a, t in legacy.items()
    }
    # the executor's views take the follower's cost from that JSON too
    views = await wallet_views(pool, now)
    assert {a: v.follower_cost for a, v in views.items()} == {a: 0.0123 for a in now}
    assert await run_reputation(pool, full=True)
    assert await _texts(pool, _STORED) == now
    assert not await pool.fetchval(
        "SELECT count(*) FROM orderflow_wallet_stats WHERE factors_stored IS NOT NULL"
    )
    # history keeps what it stored
    assert await pool.fetchval(
        "SELECT count(*) FROM orderflow_reputation_history WHERE factors_stored IS NOT NULL"
    ) == len(now)
