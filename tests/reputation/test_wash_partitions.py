"""The stored counterparty evidence after a partition of the trades is detached or attached
(``orderflow db partitions``, ``orderflow.chain.partitions``; or by hand): ``WASH`` then reads
other fills than the cells count, so the next incremental run rebuilds them, and its evidence is
a full run's, row for row and bit for bit. A partition the listener makes for a new block range
holds only new fills: the next run updates the cells (``orderflow.reputation.wash_parts``).

The population trades across three block-range partitions (60 days of chain time from block
1,000,000; a partition is 30 days); partition 1, most of it, is detached and attached (the
newest, where the listener writes, cannot be); fills from 66.9 days on go to a fourth.
"""

from __future__ import annotations

import math
from typing import Any

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.reputation import run_reputation, wash_state
from tests.reputation.population import World
from tests.reputation.test_incremental_wash import stored_wash_differs
from tests.reputation.wash_state_step import wash_world

_OLDER = "orderflow_trades_p0001"
_WASH = "SELECT * FROM orderflow_reputation_wash"
_ATTACHED = """SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'orderflow_trades'::regclass ORDER BY 1"""
# Chain time of partition 3's first block (3 x 1,296,000 blocks of 2 s from block 1,000,000).
_PARTITION_3 = 2.0 * (3 * 1_296_000 - 1_000_000)


def _builds(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One element per build of the cells from now on (an update does not build)."""
    calls: list[None] = []
    real = wash_state.build

    async def build(*args: Any, **kwargs: Any) -> None:
        calls.append(None)
        await real(*args, **kwargs)

    monkeypatch.setattr(wash_state, "build", build)
    return calls


async def _incremental_is_full(
    pool: asyncpg.Pool, builds: list[None] | None = None, *, reattached: bool = False
) -> list[asyncpg.Record]:
    """An incremental run (``builds``: it rebuilds the cells), then a full run on the same data:
    the same stored evidence. The cells are then stale (a live full run leaves them to the next
    incremental run), which rebuilds them. The stored evidence of the full run. ``reattached``:
    an old partition was attached again, and the first run is a full one that says so (migration
    076) and builds the cells as after any switch."""
    before = len(builds or [])
    run = await run_reputation(pool)
    assert (run.incremental, run.reattached) == (not reattached, reattached)
    if builds is not None:
        assert len(builds) == before + 1, "the cells rebuilt"
    incremental = await pool.fetch(_WASH)
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0
    assert (await run_reputation(pool)).incremental  # the cells built again
    assert await pool.fetchval("SELECT valid FROM orderflow_wash_state")
    rows: list[asyncpg.Record] = await pool.fetch(_WASH)
    return rows


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
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, by_hand: bool
) -> None:
    """Cells built with partition 1 attached; it is detached, new fills arrive: the incremental
    run rebuilds the cells, its evidence is the full run's (which no longer reads the detached
    fills), and differs from before; then attached again (a partition new to the cells with old
    fills), new fills: the same."""
    w = wash_world(6)
    await w.finish(pool)
    parts = await pool.fetch(
        "SELECT DISTINCT tableoid::regclass::text AS p FROM orderflow_trades ORDER BY 1"
    )
    assert len(parts) == 3 and parts[1]["p"] == _OLDER and await _older_fills(pool) > 1000
    assert not (await run_reputation(pool)).incremental
    before = await _incremental_is_full(pool)
    builds = _builds(monkeypatch)

    await _detach(pool, by_hand)
    await _new_fills(w, pool)
    detached = await _incremental_is_full(pool, builds)
    assert await stored_wash_differs(pool, before) > 0, "the detached fills moved the evidence"

    await _attach(pool, by_hand)
    await _new_fills(w, pool)
    await _incremental_is_full(pool, builds, reattached=True)
    assert await stored_wash_differs(pool, detached) > 0, "the attached fills moved it back"


def _new_partition_fills(w: World) -> None:
    """A market opening in partition 3 (not made yet): a crowd at the market price, and a new
    wallet buying large far off it from one of the makers (who trade in every partition)."""
    w._add(0.5, opens=_PARTITION_3 + 3600, resolves=_PARTITION_3 + 30 * 86400)
    s = w.specs[-1]
    for k in range(12):
        w.take(s, s.opens + 1800 * k + w.rng.uniform(0, 600), w.new_wallet(), s.winner, 60.0)
    showcase = w.new_wallet()
    for k in range(3):
        t = s.opens + 1800 * k + 900
        far = 0.95 if s.price(t, s.winner) < 0.5 else 0.05
        w.take(s, t, showcase, s.winner, 2000.0, price=far, maker=w.maker_wallets[k])


async def test_fills_in_a_new_partition_update_the_cells(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cells built over partitions 0-2; new fills in partition 2 and in partition 3, which the
    listener makes for them: the next run updates the cells (no build), keeps partition 3 among
    those they count, and its evidence is a full run's."""
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental  # builds the cells
    before = await pool.fetch(_WASH)
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)  # the partitions' rule alone
    builds = _builds(monkeypatch)

    _new_partition_fills(w)
    await _new_fills(w, pool)  # partition 2's, stored in the same ingest
    names = [r[0] for r in await pool.fetch(_ATTACHED)]
    assert names[-1] == "orderflow_trades_p0003" and len(names) == 4
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades_p0003") >= 15
    assert (await run_reputation(pool)).incremental
    assert builds == [], "updated, not rebuilt"
    state = await pool.fetchrow("SELECT valid, partitions FROM orderflow_wash_state")
    assert state["valid"]
    assert [p.split(" ")[1] for p in state["partitions"]] == names
    incremental = await pool.fetch(_WASH)
    assert await stored_wash_differs(pool, before) > 0, "the new fills moved the evidence"
    assert not (await run_reputation(pool, full=True)).incremental
    assert await stored_wash_differs(pool, incremental) == 0


async def test_a_partition_recreated_under_its_name(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two runs, by hand: partition 1 detached, a new table of that name made with its
    fills but some, attached in its place (the names attached are those the cells counted, the
    relation ids are not): the next run rebuilds the cells, its evidence is a full run's."""
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    before = await _incremental_is_full(pool)
    names = await pool.fetch(_ATTACHED)
    builds = _builds(monkeypatch)

    async with pool.acquire() as conn:
        span = await partitions.span_blocks(conn)
        await conn.execute(f"ALTER TABLE orderflow_trades DETACH PARTITION {_OLDER}")
        await conn.execute(f"ALTER TABLE {_OLDER} RENAME TO {_OLDER}_old")
        await conn.execute(
            f"CREATE TABLE {_OLDER}"
            " (LIKE orderflow_trades INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        await conn.execute(
            f"""INSERT INTO {_OLDER} SELECT * FROM {_OLDER}_old
                 WHERE wallet_address NOT IN (
                       SELECT wallet_address FROM orderflow_reputation_wash
                        WHERE host IS NOT NULL OR off_fills > 0)"""
        )
        old = int(await conn.fetchval(f"SELECT count(*) FROM {_OLDER}_old"))
        assert 0 < await _older_fills(pool) < old
        await conn.execute(
            f"ALTER TABLE orderflow_trades ATTACH PARTITION {_OLDER}"
            f" FOR VALUES FROM ({span}) TO ({2 * span})"
        )
    assert await pool.fetch(_ATTACHED) == names
    await _incremental_is_full(pool, builds, reattached=True)
    assert await stored_wash_differs(pool, before) > 0, "the fills left out moved the evidence"


async def test_a_partition_changed_while_detached(pool: asyncpg.Pool) -> None:
    """Detached, some of its fills deleted (no trigger logs them: a detached partition is a plain
    table), attached again, all between two runs: the attached partitions are those the cells
    counted, but ``orderflow db partitions`` marked the cells stale."""
    w = wash_world(6)
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
    await _incremental_is_full(pool, reattached=True)
    assert await stored_wash_differs(pool, before) > 0, "the deleted fills moved the evidence"
