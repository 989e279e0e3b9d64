"""After an incremental run, the wallets it does not rescore read exactly as after a full run:
the part the population moves (posterior, prior, volume factor, raw score: computed when read
against the current population since migration 022; score and tier: stored by the run) follows
the population, the rest stays. And the run rewrites only the rows whose own figures, score,
tier or flags changed, not every row the population moved.

The world is split in two: wallets that trade only in markets resolved before the first run
(never rescored afterwards) and wallets that trade only in markets resolved later. The late
resolutions move the population prior, so every early wallet's posterior moves although none
of its inputs does; the rows as read must then equal a full recompute's, JSON included.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import factors, run_reputation, stored_inputs
from tests.reputation.population import World, edge_taker, noise_taker, skilled_taker
from tests.reputation.test_incremental_run import close, persisted


def _prior_sd(row: Mapping[str, Any]) -> float:
    factors = row["factors"]
    return float(
        (json.loads(factors) if isinstance(factors, str) else factors)["posterior"]["prior_sd"]
    )


async def test_unrescored_wallets_get_the_moved_posterior_in_their_json(
    pool: asyncpg.Pool,
) -> None:
    w = World(seed=47, markets=36, neg_risk_events=0, makers=3)
    specs = list(w.specs)
    early, late = specs[: len(specs) // 2], specs[len(specs) // 2 :]
    w.specs = early
    early_wallets = [w.new_wallet() for _ in range(14)]
    for i, who in enumerate(early_wallets):
        if i % 2:
            skilled_taker(w, who, 10, 0.3 + 0.05 * i, usd=120.0)
        else:
            noise_taker(w, who, 10, usd=120.0)
    w.specs = late
    for _ in range(10):
        edge_taker(w, w.new_wallet(), 12, 0.12, usd=300.0)
    w.specs = specs
    for s in early:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)

    first = await run_reputation(pool)
    assert not first.incremental
    before = {r["wallet_address"]: r for r in await persisted(pool)}

    for s in late:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental and 0 < second.rescored < second.wallets
    after = {r["wallet_address"]: r for r in await persisted(pool)}
    # the premise: the early wallets' inputs did not change, their posteriors did
    moved = [
        a
        for a in early_wallets
        if after[a]["events_resolved"] == before[a]["events_resolved"]
        and after[a]["edge"] != before[a]["edge"]
    ]
    assert len(moved) >= len(early_wallets) // 2
    assert all(after[a]["factors"] != before[a]["factors"] for a in moved)
    a = early_wallets[0]  # the population's spread of true edges moved
    assert _prior_sd(after[a]) != _prior_sd(before[a])

    # rewritten: the rows the second run stamped; a row whose own figures, score, tier and flags
    # stayed keeps the first run's stamp though its posterior moved
    stamps = {
        r["wallet_address"]: r["computed_at"]
        for r in await pool.fetch("SELECT wallet_address, computed_at FROM orderflow_wallet_stats")
    }
    rewritten = {a for a, t in stamps.items() if t == second.computed_at}
    changed = {
        a
        for a, r in after.items()
        if a not in before
        or any(r[k] != before[a][k] for k in ("reputation_score", "trader_tier", "flags"))
    }
    assert changed <= rewritten
    # an early wallet (never rescored) is rewritten only when its score, tier or flags changed
    assert rewritten - changed <= set(stamps) - set(early_wallets)
    assert len(rewritten) < second.wallets
    kept = [a for a in moved if a not in changed]
    assert kept and not rewritten & set(kept)
    assert all(stamps[a] == first.computed_at for a in kept)

    incremental = await persisted(pool)
    third = await run_reputation(pool, full=True)
    assert not third.incremental and third.history_rows == 0
    close(await persisted(pool), incremental)


async def test_an_incremental_run_gives_the_upsert_only_rows_that_may_change(
    pool: asyncpg.Pool,
) -> None:
    """The population step sends back only the wallets whose inputs changed or whose stored
    score, tier or flags differ from the new ones; every other row is left as it is. A stored
    row that disagrees with the run in its score, its tier or its flags alone (as if the
    population had moved it) is sent and mended."""
    w = World(seed=53, markets=24, neg_risk_events=0, makers=3)
    specs = list(w.specs)
    early = specs[: len(specs) // 2]
    w.specs = early
    wallets = [w.new_wallet() for _ in range(12)]
    for i, who in enumerate(wallets):
        (skilled_taker(w, who, 10, 0.3, usd=120.0) if i % 2 else noise_taker(w, who, 10))
    w.specs = specs
    for s in early:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    truth = {r["wallet_address"]: r for r in await persisted(pool)}

    # rows tampered with, one column each (nothing they are computed from changes)
    score_of, tier_of, flags_of = wallets[1], wallets[2], wallets[3]
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET reputation_score = reputation_score + 0.01"
        " WHERE wallet_address = $1",
        score_of,
    )
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET trader_tier = CASE WHEN trader_tier = 'DEGEN'"
        " THEN 'NOVICE' ELSE 'DEGEN' END WHERE wallet_address = $1",
        tier_of,
    )
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET flags = flags || '{PENNY_PICKER}'::text[]"
        " WHERE wallet_address = $1",
        flags_of,
    )
    # ... a flag the code does not know, and one written twice
    unknown_of, twice_of = wallets[4], wallets[5]
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET flags = flags || '{NOT_A_FLAG}'::text[]"
        " WHERE wallet_address = $1",
        unknown_of,
    )
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET flags = flags || flags || '{WASH}'::text[]"
        " || '{WASH}'::text[] WHERE wallet_address = $1",
        twice_of,
    )
    # ... and a row deleted
    deleted_of = wallets[6]
    await pool.execute("DELETE FROM orderflow_wallet_stats WHERE wallet_address = $1", deleted_of)
    second = await run_reputation(pool)
    assert second.incremental
    assert second.rescored == 0 and second.candidates == 6 < second.wallets
    mended = {r["wallet_address"]: r for r in await persisted(pool)}
    for who in (score_of, tier_of, flags_of, unknown_of, twice_of, deleted_of):
        for k in ("reputation_score", "trader_tier", "flags"):
            assert mended[who][k] == truth[who][k], (who, k)
    await _mirror_is_the_stored_rows(pool)
    assert second.tiers == (await run_reputation(pool, full=True)).tiers


async def _mirror_is_the_stored_rows(pool: asyncpg.Pool) -> None:
    """The standings' copy of each wallet's stored score, tier and flags (what an
    incremental run compares its scores with) is the stored row's; every wallet of the stored
    inputs has a standing, and no other."""
    from orderflow.reputation.scores_sql import MIRROR, MIRROR_COLUMNS

    differ = await pool.fetchval(
        f"""SELECT count(*) FROM {stored_inputs.STANDING} i
              FULL JOIN {stored_inputs.INPUTS} w ON w.idx = i.idx
              LEFT JOIN orderflow_wallet_stats ws ON ws.wallet_address = w.wallet_address
              CROSS JOIN LATERAL (SELECT {MIRROR}) m
             WHERE i.idx IS NULL OR w.idx IS NULL
                OR ({", ".join(f"i.{c}" for c in MIRROR_COLUMNS)}) IS DISTINCT FROM
                   ({", ".join(f"m.{c}" for c in MIRROR_COLUMNS)})"""
    )
    assert differ == 0
    assert await pool.fetchval(f"SELECT count(*) FROM {stored_inputs.INPUTS}") > 0


async def test_the_stored_rows_copies_follow_the_rows_and_a_truncate_makes_the_next_run_full(
    pool: asyncpg.Pool,
) -> None:
    """Incremental runs whose scores move (new fills, resolutions) keep the stored inputs'
    copies of the rows' scores, tiers and flags equal to the rows; rows emptied by hand
    (``TRUNCATE``) make the next run a full one, which writes them all again."""
    w = World(seed=67, markets=24, neg_risk_events=0, makers=3)
    specs = list(w.specs)
    early, later = specs[: len(specs) // 2], specs[len(specs) // 2 :]
    w.specs = early
    wallets = [w.new_wallet() for _ in range(10)]
    for i, who in enumerate(wallets):
        (skilled_taker(w, who, 8, 0.3, usd=90.0) if i % 2 else noise_taker(w, who, 8))
    for s in early:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    await _mirror_is_the_stored_rows(pool)
    w.specs = later
    for i, who in enumerate(wallets[:5]):
        (skilled_taker(w, who, 6, 0.3, usd=90.0) if i % 2 else noise_taker(w, who, 6))
    for s in later:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    second = await run_reputation(pool)
    assert second.incremental and second.rescored >= 5
    await _mirror_is_the_stored_rows(pool)
    rows = await persisted(pool)
    await pool.execute("TRUNCATE orderflow_wallet_stats")
    third = await run_reputation(pool)
    assert not third.incremental
    assert await persisted(pool) == rows
    await _mirror_is_the_stored_rows(pool)


async def test_a_change_of_the_scoring_code_makes_the_next_run_full(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incremental run leaves alone the rows whose inputs did not change, trusting them to
    hold what the scoring code makes of those inputs: after that code changes (an upgrade),
    the next run must be a full one, which sends every row."""
    w = World(seed=59, markets=12, neg_risk_events=0, makers=2)
    for _ in range(6):
        noise_taker(w, w.new_wallet(), 8)
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental

    changed = tmp_path / "factors.py"
    changed.write_bytes(Path(inspect.getfile(factors)).read_bytes() + b"# another version\n")
    real = inspect.getfile
    monkeypatch.setattr(inspect, "getfile", lambda m: str(changed) if m is factors else real(m))
    after = await run_reputation(pool)
    assert not after.incremental and after.candidates == after.wallets
    assert (await run_reputation(pool)).incremental


async def test_a_runs_own_writes_never_call_the_touched_trigger(pool: asyncpg.Pool) -> None:
    """Migration 029: the rows a run writes do not even call the trigger that records writes by
    others (its WHEN condition), while a write by hand is still recorded and mended."""
    await pool.execute(
        """
        CREATE TABLE touched_calls (n int);
        CREATE OR REPLACE FUNCTION orderflow_wallet_stats_touched() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO touched_calls VALUES (1);
            INSERT INTO orderflow_reputation_touched (wallet_address)
            VALUES (OLD.wallet_address) ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$"""
    )
    w = World(seed=71, markets=12, neg_risk_events=0, makers=2)
    wallets = [w.new_wallet() for _ in range(6)]
    for who in wallets:
        noise_taker(w, who, 8)
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    await w.chain.ingest(pool)  # the wallets' counter rows first: the run updates them
    assert not (await run_reputation(pool)).incremental
    written = await pool.fetchval(
        "SELECT count(*) FROM orderflow_wallet_stats WHERE reputation_score IS NOT NULL"
    )
    assert written >= 6
    assert await pool.fetchval("SELECT count(*) FROM touched_calls") == 0
    rows = await persisted(pool)
    await pool.execute(
        "UPDATE orderflow_wallet_stats SET trader_tier = 'WHALE' WHERE wallet_address = $1",
        wallets[0],
    )
    assert await pool.fetchval("SELECT count(*) FROM touched_calls") == 1
    assert (await run_reputation(pool)).incremental
    assert await persisted(pool) == rows  # the hand-written tier mended
    assert await pool.fetchval("SELECT count(*) FROM touched_calls") == 1
