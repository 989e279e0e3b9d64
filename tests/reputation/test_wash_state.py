"""The stored counterparty evidence (``orderflow.reputation.wash_state``) gives ``WASH``'s rows,
bit for bit, after any change of the trades.

Populations with the wash tests' behaviours and crowded random trading -> the cells built -> a
change (new fills in old buckets and in new ones, fills that flip a wallet's pass-1 verdict, a
ring forming and one dissolving, a reorg rollback, a fee refund, market ids back-filled) -> the
cells updated -> ``rep_wash`` assembled from them against ``WASH`` over the same trades, in the
same transaction, every value compared to the last bit. The steps of the closure are needed: with
the neighbouring buckets or the flipped wallets' buckets left out, the rows differ.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from orderflow.chain.rollback import rollback_from
from orderflow.reputation import ReputationSettings, run_reputation, wash_state
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import World, round_trip_ring, wash_ring
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_identity import SETTINGS, random_population, wash_population

Rows = dict[tuple[str, Any], tuple[Any, ...]]

_THIN = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address"""


def _bits(v: Any) -> Any:
    return v.hex() if isinstance(v, float) else v


async def _wash_rows(conn: asyncpg.Connection) -> Rows:
    rows = await conn.fetch("SELECT * FROM rep_wash")
    out = {(r["wallet_address"], r["token_id"]): tuple(_bits(v) for v in r.values()) for r in rows}
    assert len(out) == len(rows)
    await conn.execute("DROP TABLE rep_wash")
    return out


async def _full(conn: asyncpg.Connection, args: tuple[Any, ...]) -> Rows:
    await conn.execute(WASH, *args)
    return await _wash_rows(conn)


async def _step(
    pool: asyncpg.Pool, settings: ReputationSettings, build: bool = False
) -> tuple[Rows, Rows, int]:
    """Build or update the cells; ``rep_wash`` assembled from them, ``WASH``'s, and the number of
    wallets whose verdict flipped (an update; -1: the update found its cells inconsistent)."""
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(_THIN)
        if build:
            await wash_state.build(conn, as_of, settings)
            flipped = 0
        else:
            consistent = await wash_state.update(conn, as_of, settings)
            flipped = await conn.fetchval("SELECT count(*) FROM rep_wash_f")
            if not consistent:
                return {}, {}, -1
        await wash_state.assemble(conn, as_of, settings)
        stored = await _wash_rows(conn)
        full = await _full(conn, (as_of, *wash_settings(settings)))
    return stored, full, flipped


def _diff(a: Rows, b: Rows) -> int:
    return sum(1 for k in a.keys() | b.keys() if a.get(k) != b.get(k))


Change = Callable[[World, asyncpg.Pool], Awaitable[None]]


async def _new_fills(w: World, pool: asyncpg.Pool) -> None:
    """Fills in old buckets (inside crowded trading) and in new ones, off the market and not."""
    for s in w.pick(4, binary_only=True):
        for frac in (0.3, 0.5, 0.7):  # where the random population trades
            t = s.opens + (s.resolves - s.opens) * frac + w.rng.uniform(0, 9000)
            w.take(s, t, w.new_wallet(), s.winner, 80.0, price=round(w.rng.uniform(0.05, 0.95), 2))
        w.take(s, s.resolves - 5000, w.new_wallet(), s.winner, 60.0)
    await w.chain.ingest(pool)


async def _turns_off_market(w: World, pool: asyncpg.Pool) -> None:
    """The busiest wallets not off the market yet buy far off it, in crowded buckets, large:
    their pass-1 verdicts flip, and their old buckets leave pass 2's market."""
    who = await pool.fetch(
        """SELECT c.w FROM orderflow_wash_cells c JOIN orderflow_wash_wallets o ON o.w = c.w
            WHERE NOT o.off1 GROUP BY c.w ORDER BY count(*) DESC, c.w LIMIT 3"""
    )
    for r in who:
        for s in w.pick(3, binary_only=True):
            t = s.opens + (s.resolves - s.opens) * 0.5 + w.rng.uniform(0, 9000)
            far = 0.95 if s.price(t, s.winner) < 0.5 else 0.05
            w.take(s, t, r["w"], s.winner, 20000.0, price=far, maker=w.new_wallet())
    await w.chain.ingest(pool)


async def _ring_forms(w: World, pool: asyncpg.Pool) -> None:
    """A new ring trading at its own price among the crowd: verdicts flip, hosts appear."""
    ring = [w.new_wallet() for _ in range(3)]
    wash_ring(w, ring[0], ring[1:], 10)
    round_trip_ring(w, ring, 6)
    await w.chain.ingest(pool)


async def _rollback(w: World, pool: asyncpg.Pool) -> None:
    """The newest blocks roll back (a reorg): a wash ring's last fills go."""
    await _ring_forms(w, pool)
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    lo = await pool.fetchval(
        "SELECT percentile_disc(0.6) WITHIN GROUP (ORDER BY block_number) FROM orderflow_trades"
    )
    async with pool.acquire() as conn:
        assert (await rollback_from(conn, 137, lo)).trades > 0
    assert top > lo


async def _refund_and_backfill(w: World, pool: asyncpg.Pool) -> None:
    """Fee refunds on taker rows, then one token's market ids unknown and one market's trades
    moved to another market's id (updates of columns WASH reads)."""
    await pool.execute(
        """UPDATE orderflow_trades SET fee = fee / 2
            WHERE is_taker_aggregate AND fee > 0 AND id % 3 = 0"""
    )
    token = await pool.fetchval(
        "SELECT token_id FROM orderflow_trades WHERE market_id IS NOT NULL"
        " GROUP BY token_id ORDER BY count(*) DESC LIMIT 1"
    )
    await pool.execute(
        "UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL WHERE token_id = $1",
        token,
    )


async def _dissolve(w: World, pool: asyncpg.Pool) -> None:
    """A ring's fills deleted outright (its wallets' verdicts flip back, its hosts go)."""
    await pool.execute(
        """DELETE FROM orderflow_trades
            WHERE wallet_address IN (SELECT wallet_address FROM orderflow_wash_wallets
                                      WHERE off1 ORDER BY wallet_address LIMIT 2)"""
    )


def _world(seed: int) -> World:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    wash_population(w)
    return w


@pytest.mark.parametrize("name", list(SETTINGS))
async def test_updated_cells_give_wash_bit_for_bit(pool: asyncpg.Pool, name: str) -> None:
    settings = SETTINGS[name]
    w = _world(6)
    await w.finish(pool)
    stored, full, _ = await _step(pool, settings, build=True)
    assert len(full) > 30 and stored == full
    flips = 0
    changes = (_new_fills, _turns_off_market, _ring_forms, _rollback)
    for change in (*changes, _refund_and_backfill, _dissolve):
        await change(w, pool)
        before = full
        stored, full, flipped = await _step(pool, settings)
        assert _diff(before, full) > 0, f"{change.__name__} moved no row"
        assert flipped >= 0 and _diff(stored, full) == 0, change.__name__
        if change is _turns_off_market:
            assert flipped > 0, "the verdicts of wallets with older buckets flipped"
        flips += flipped
    assert flips > 0, "some change flipped a pass-1 verdict"


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("_NEXT", "(VALUES (0::int8))"),  # no neighbouring buckets
        ("_PASS2_BUCKETS", "SELECT mk, b FROM rep_wash_d"),  # no flipped wallet's buckets
    ],
)
async def test_the_closure_needs_each_step(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, target: str, value: str
) -> None:
    settings = SETTINGS["default"]
    w = _world(6)
    await w.finish(pool)
    await _step(pool, settings, build=True)
    monkeypatch.setattr(wash_state, target, value)
    missed = 0
    for change in (_new_fills, _turns_off_market):
        await change(w, pool)
        stored, full, flipped = await _step(pool, settings)
        missed += _diff(stored, full) + (flipped < 0)  # wrong rows, or seen inconsistent
    assert missed > 0


async def _state(pool: asyncpg.Pool) -> tuple[bool, bool]:
    """Whether the cells are valid, and whether they count every trade stored."""
    row = await pool.fetchrow("SELECT valid, last_id FROM orderflow_wash_state")
    top = await pool.fetchval("SELECT max(id) FROM orderflow_trades")
    assert row is not None
    return row["valid"], row["last_id"] == top


async def test_runs_keep_the_cells(pool: asyncpg.Pool) -> None:
    """A live full run builds the cells, an incremental run updates them; stale cells (another
    SQL, a truncate) make the incremental run compute WASH and rebuild them; the stored evidence
    is a full run's every time."""
    w = _world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert await _state(pool) == (True, True)
    # a row a build would clear (it truncates): an update keeps it
    marker = "INSERT INTO orderflow_wash_tokens VALUES ('marker', 0)"
    kept = "SELECT count(*) FROM orderflow_wash_tokens WHERE mk = 'marker'"
    await pool.execute(marker)
    for change in (_turns_off_market, _rollback, _refund_and_backfill):
        await change(w, pool)
        assert (await run_reputation(pool)).incremental
        assert await _state(pool) == (True, True)
        assert await pool.fetchval(kept) == 1, "updated, not rebuilt"
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")

    await _new_fills(w, pool)
    await pool.execute("UPDATE orderflow_wash_state SET fingerprint = 'another SQL'")
    assert (await run_reputation(pool)).incremental  # WASH, then the cells rebuilt
    assert await _state(pool) == (True, True)
    assert await pool.fetchval(kept) == 0, "rebuilt"
    assert await stored_wash_differs(pool, incremental) > 0
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0

    await _ring_forms(w, pool)
    assert (await run_reputation(pool)).incremental
    incremental = await pool.fetch("SELECT * FROM orderflow_reputation_wash")
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
