"""``orderflow reputation run --as-of T`` looks at the past: it writes the score history as of
``T`` and nothing live. The stored rows, the population row they are read against, the issues and
what the next incremental run reads (its stored inputs and counterparty / COPIER cells) are
byte for byte what they were before it, and the next live run is still incremental."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import pytest

from orderflow.errors import ConfigError
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.population import World, skilled_taker

# Everything a live run leaves for the readers (the rows, the population, the issues) and for
# the next incremental run (its stored inputs, cells and their state rows).
_LIVE = (
    "orderflow_wallet_stats",
    "orderflow_reputation_population",
    "orderflow_reputation_issues",
    "orderflow_reputation_inputs",
    "orderflow_reputation_wash",
    "orderflow_reputation_closes",
    "orderflow_reputation_void",
    "orderflow_reputation_detached_marks",
    "orderflow_reputation_state",
    "orderflow_wash_state",
    "orderflow_copy_state",
    "orderflow_copy_cells",
    "orderflow_copy_pairs",
)

_HISTORY = """
SELECT wallet_address, reputation_score, trader_tier, flags
  FROM orderflow_reputation_history WHERE computed_at = $1 ORDER BY wallet_address
"""


async def _live(pool: asyncpg.Pool) -> dict[str, list[str]]:
    return {
        t: [r[0] for r in await pool.fetch(f"SELECT x::text FROM {t} x ORDER BY 1")] for t in _LIVE
    }


async def _world(pool: asyncpg.Pool) -> datetime:
    w = World(seed=39, markets=12, neg_risk_events=1, favourites=2, makers=2)
    for _ in range(10):
        skilled_taker(w, w.new_wallet(), 6, 0.5)
    await w.finish(pool)
    past = await pool.fetchval("SELECT max(timestamp) - interval '3 days' FROM orderflow_trades")
    assert isinstance(past, datetime)
    return past


async def test_an_as_of_run_leaves_the_live_state_as_it_was(pool: asyncpg.Pool) -> None:
    past = await _world(pool)
    assert not (await run_reputation(pool)).incremental
    before = await _live(pool)
    population = await pool.fetchrow("SELECT * FROM orderflow_reputation_population")
    summary = await run_reputation(pool, as_of=past)
    assert summary.as_of == past and summary.source == "trades" and not summary.incremental
    after = await _live(pool)
    for table in _LIVE:
        assert after[table] == before[table], (
            table,
            population,
            await pool.fetchrow("SELECT * FROM orderflow_reputation_population"),
        )
    # the history as of T: a row for every wallet scored then, as compute_scores scores it
    then = await compute_scores(pool, as_of=past)
    rows = await pool.fetch(_HISTORY, past)
    assert summary.history_rows == len(rows) == len(then) > 0
    for r in rows:
        s = then[r["wallet_address"]]
        assert (r["reputation_score"], r["trader_tier"], list(r["flags"])) == (
            s.score,
            s.tier,
            list(s.flags),
        )
    # looked at again: nothing new to record
    assert (await run_reputation(pool, as_of=past)).history_rows == 0
    # the next live run reads the stored inputs as the last live run left them
    nothing = await run_reputation(pool)
    assert nothing.incremental and nothing.history_rows == 0
    assert (await _live(pool))["orderflow_wallet_stats"] == before["orderflow_wallet_stats"]


async def test_the_history_as_of_t_records_changes_only(pool: asyncpg.Pool) -> None:
    """A wallet whose score, tier and flags at ``T`` are those of its last history row at or
    before ``T`` gets no row; the history of later live runs is left as it is."""
    past = await _world(pool)
    await run_reputation(pool)
    live = await pool.fetchval("SELECT count(*) FROM orderflow_reputation_history")
    first = await run_reputation(pool, as_of=past - timedelta(days=1))
    again = await run_reputation(pool, as_of=past)
    assert first.history_rows > 0
    total = await pool.fetchval("SELECT count(*) FROM orderflow_reputation_history")
    assert total == live + first.history_rows + again.history_rows


async def test_a_future_as_of_is_refused(pool: asyncpg.Pool) -> None:
    """As of a time after the database clock: refused, nothing written (it stamped history rows
    in the future, which would read as the newest of every wallet until then)."""
    await _world(pool)
    await run_reputation(pool)
    before = await _live(pool)
    history = await pool.fetchval("SELECT count(*) FROM orderflow_reputation_history")
    future = await pool.fetchval("SELECT now() + interval '1 day'")
    with pytest.raises(ConfigError, match="after the database clock"):
        await run_reputation(pool, as_of=future)
    assert await _live(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM orderflow_reputation_history") == history
