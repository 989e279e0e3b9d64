"""The stored counterparty evidence after a partition of the trades is detached or attached
(``orderflow db partitions``, ``orderflow.chain.partitions``; or by hand): ``WASH`` then reads
other fills than the cells count, so the next incremental run rebuilds them, and its evidence is
a full run's, row for row and bit for bit.

The population trades across three block-range partitions (60 days of chain time from block
1,000,000; a partition is 30 days); partition 1, most of it, is detached and attached (the
newest, where the listener writes, cannot be).
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.reputation import run_reputation
from tests.reputation.population import World
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.test_wash_state import _world

_OLDER = "orderflow_trades_p0001"
_WASH = "SELECT * FROM orderflow_reputation_wash"


async def _incremental_is_full(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """An incremental run, then a full run on the same data: the same stored evidence. The
    cells are then stale (a live full run leaves them to the next incremental run), which
    rebuilds them. The stored evidence of the full run."""
    assert (await run_reputation(pool)).incremental
    incremental = await pool.fetch(_WASH)
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
    assert (await run_reputation(pool)).incremental  # the cells built again
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    return await pool.fetch(_WASH)


async def _new_fills(w: World, pool: asyncpg.Pool) -> None:
    """Fills in partition 2 (chain time past 36.9 days), in old buckets and in new ones, at the
    market price and off it."""
    late = 3_200_000.0
    specs = [s for s in w.specs if not s.market.neg_risk and s.resolves > late + 20_000]
    for s in w.rng.sample(specs, min(4, len(specs))):
        for _ in range(3):
            t = w.rng.uniform(max(s.opens, late), s.resolves - 10_000)
            w.take(s, t, w.new_wallet(), s.winner, 80.0, price=round(w.rng.uniform(0.05, 0.95), 2))
        w.take(s, s.resolves - 5000, w.new_wallet(), s.winner, 60.0)
    await w.chain.ingest(pool)


async def _older_fills(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval(f"SELECT count(*) FROM {_OLDER}"))


async def _detach(pool: asyncpg.Pool, by_hand: bool) -> None:
    async with pool.acquire() as conn:
        if by_hand:
            for table in partitions.TABLES:
                await conn.execute(f"ALTER TABLE {table} DETACH PARTITION {table}_p0001")
        else:
            await partitions.detach(conn, _OLDER)


async def _attach(pool: asyncpg.Pool, by_hand: bool) -> None:
    async with pool.acquire() as conn:
        if by_hand:
            span = await partitions.span_blocks(conn)
            for table in partitions.TABLES:
                await conn.execute(
                    f"ALTER TABLE {table} ATTACH PARTITION {table}_p0001"
                    f" FOR VALUES FROM ({span}) TO ({2 * span})"
                )
        else:
            await partitions.attach(conn, _OLDER)


@pytest.mark.parametrize("by_hand", [False, True], ids=["cli", "by-hand"])
async def test_incremental_after_detach_and_attach_is_full(
    pool: asyncpg.Pool, by_hand: bool
) -> None:
    """Cells built with partition 1 attached; it is detached, new fills arrive: the incremental
    run's evidence is the full run's (which no longer reads the detached fills), and differs from
    before; then attached again, new fills: the same."""
    w = _world(6)
    await w.finish(pool)
    parts = await pool.fetch(
        "SELECT DISTINCT tableoid::regclass::text AS p FROM orderflow_trades ORDER BY 1"
    )
    assert len(parts) == 3 and parts[1]["p"] == _OLDER and await _older_fills(pool) > 1000
    assert not (await run_reputation(pool)).incremental
    before = await _incremental_is_full(pool)

    await _detach(pool, by_hand)
    await _new_fills(w, pool)
    detached = await _incremental_is_full(pool)
    assert await stored_wash_differs(pool, before) > 0, "the detached fills moved the evidence"

    await _attach(pool, by_hand)
    await _new_fills(w, pool)
    await _incremental_is_full(pool)
    assert await stored_wash_differs(pool, detached) > 0, "the attached fills moved it back"


async def test_a_partition_changed_while_detached(pool: asyncpg.Pool) -> None:
    """Detached, some of its fills deleted (no trigger logs them: a detached partition is a plain
    table), attached again, all between two runs: the attached partitions are those the cells
    counted, but ``orderflow db partitions`` marked the cells stale."""
    w = _world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await _incremental_is_full(pool)

    await _detach(pool, by_hand=False)
    deleted = await pool.execute(
        f"""DELETE FROM {_OLDER} WHERE wallet_address IN (
                SELECT wallet_address FROM orderflow_reputation_wash
                 WHERE host IS NOT NULL OR off_fills > 0)"""
    )
    assert int(deleted.split()[-1]) > 0
    await _attach(pool, by_hand=False)
    await _incremental_is_full(pool)
    assert await stored_wash_differs(pool, before) > 0, "the deleted fills moved the evidence"
