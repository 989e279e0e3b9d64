"""An incremental run's writes read the stored tables at the keys it changed, not whole
(``orderflow.reputation.probe``).

At 1 M wallets an hour rescores ≈ 25,000 wallets (2 %) holding ≈ 19,000 of the ≈ 1 M stored open
positions: the open positions' ``DELETE`` (the rescored wallets' rows that moved) and
``INSERT`` (those missing) were each planned over a sequential scan of every stored open
position (0.39 s and 0.57 s an hour), and the reset of wallets left without fills probed
``orderflow_wallet_stats`` for each of the ≈ 20,000 claimed wallets to find none (0.27 s), though
a claimed wallet the run scored is among the rows it sends back (docs/benchmarks.md, "The hourly
run's writes at 1 M"). Here the same proportion: a few changed keys among many stored rows no
change touches, and the rows the statements read of those tables are counted
(``pg_stat_xact_user_tables``)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

import orderflow.reputation.run as run_module
from orderflow.reputation import (
    ReputationSettings,
    persist_sql,
    run_persist,
    run_reputation,
    unrealized,
)
from tests.reputation.test_incremental_probes import (
    _MARK,
    CHANGED,
    PADDING,
    _pad,
    _reads,
    changed_hour,
)
from tests.reputation.wash_state_step import wash_world

# Open positions of wallets no change touches (stored rows of earlier runs).
_PAD_OPEN = f"""
INSERT INTO {unrealized.OPEN} (wallet_address, token_id, held_u, basis_u)
SELECT '0xdd' || lpad(to_hex(i), 38, '0'), 8e75::numeric + i, 1000000, 400000
  FROM generate_series(1, $1::int) i
"""
# Scored rows of wallets no change touches: a copy of a scored row under new addresses.
_PAD_STATS = """
INSERT INTO orderflow_wallet_stats
SELECT (jsonb_populate_record(NULL::orderflow_wallet_stats,
        to_jsonb(s) || jsonb_build_object('wallet_address', '0xdd' || lpad(to_hex(i), 38, '0')))).*
  FROM (SELECT * FROM orderflow_wallet_stats WHERE computed_at IS NOT NULL
         ORDER BY wallet_address LIMIT 1) s
 CROSS JOIN generate_series(1, $1::int) i
"""


@pytest.mark.parametrize("seed", [5, 7])
async def test_the_open_positions_are_written_at_the_rescored_wallets(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The open positions of the rescored wallets are brought to the run's by reading those
    wallets' stored rows, a few passes over them, not every stored open position."""
    settings = await changed_hour(pool, seed, (_PAD_OPEN, unrealized.OPEN))
    seen: dict[str, int] = {}
    save = unrealized.save

    async def counted(conn: asyncpg.Connection, *, incremental: bool) -> None:
        before = await _reads(conn, unrealized.OPEN)
        await save(conn, incremental=incremental)
        after = await _reads(conn, unrealized.OPEN)
        seen["read"] = after[unrealized.OPEN] - before[unrealized.OPEN]
        seen["own"] = await conn.fetchval(
            f"""SELECT count(*) FROM {unrealized.OPEN}
                 WHERE wallet_address IN (SELECT wallet_address FROM rep_dirty_wallets)"""
        )
        seen["dirty"] = await conn.fetchval("SELECT count(*) FROM rep_dirty_wallets")
        seen["stored"] = await conn.fetchval(f"SELECT count(*) FROM {unrealized.OPEN}")

    monkeypatch.setattr(unrealized, "save", counted)
    async with pool.acquire() as conn, conn.transaction():
        assert (await run_reputation(conn, settings=settings)).incremental
    assert seen["dirty"] >= CHANGED and seen["own"] >= CHANGED, seen
    assert seen["stored"] > 10 * seen["own"], seen
    # the delete's and the insert's passes over the rescored wallets' rows
    assert seen["read"] <= 4 * seen["own"], seen


async def test_the_reset_probes_only_wallets_the_run_did_not_score(pool: asyncpg.Pool) -> None:
    """Claimed wallets the run scored again (every one here) are not looked up in the stored
    rows to find whether they were left without fills."""
    await wash_world(5).finish(pool)
    await run_reputation(pool, settings=ReputationSettings(), full=True)
    await pool.execute(_PAD_STATS, PADDING)
    await pool.execute("ANALYZE orderflow_wallet_stats")
    async with pool.acquire() as conn, conn.transaction():
        # the claimed keys: changed wallets all scored again by the run (its rows sent back)
        await conn.execute(
            """CREATE TEMP TABLE rep_dirty_keys ON COMMIT DROP AS
               SELECT wallet_address, 1::numeric AS token_id FROM orderflow_wallet_stats
                WHERE wallet_address LIKE '0xdd%' ORDER BY wallet_address LIMIT $1""",
            CHANGED,
        )
        await conn.execute(
            "CREATE TEMP TABLE rep_final ON COMMIT DROP AS SELECT * FROM rep_dirty_keys"
        )
        await conn.execute("ANALYZE rep_dirty_keys")
        await conn.execute("ANALYZE rep_final")
        before = await _reads(conn, "orderflow_wallet_stats")
        status = await conn.execute(
            persist_sql.reset_without_fills(incremental=True), await conn.fetchval("SELECT now()")
        )
        after = await _reads(conn, "orderflow_wallet_stats")
    assert status == "INSERT 0 0"
    read = after["orderflow_wallet_stats"] - before["orderflow_wallet_stats"]
    # none probed (a few rows: the planner's look at the key index's ends), not one a claim
    assert read < 10, read


@pytest.mark.parametrize("seed", [5, 7])
async def test_the_rows_written_are_compared_with_the_stored_rows_at_their_wallets(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The rows an incremental run sends back are compared with the stored rows (which to
    write, which get a history row) and their history rows copied from them, reading the stored
    rows of those wallets, not every stored row."""
    settings = await changed_hour(pool, seed, (_PAD_STATS, "orderflow_wallet_stats"))
    seen: dict[str, int] = {}
    persist = run_persist.persist

    async def counted(conn: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        before = await _reads(conn, "orderflow_wallet_stats")
        out = await persist(conn, *args, **kwargs)
        after = await _reads(conn, "orderflow_wallet_stats")
        seen["read"] = after["orderflow_wallet_stats"] - before["orderflow_wallet_stats"]
        seen["sent"] = await conn.fetchval("SELECT count(*) FROM rep_write")
        seen["stored"] = await conn.fetchval("SELECT count(*) FROM orderflow_wallet_stats")
        return out

    monkeypatch.setattr(run_module, "persist", counted)
    async with pool.acquire() as conn, conn.transaction():
        assert (await run_reputation(conn, settings=settings)).incremental
    assert seen["sent"] >= CHANGED, seen
    assert seen["stored"] > 10 * seen["sent"], seen
    # the written rows' stored rows, read a few times over (compared, copied to the history)
    assert seen["read"] <= 4 * seen["sent"], seen


async def test_the_open_positions_are_taken_from_the_run_s_positions_once(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run's positions (``rep_positions``: every position of the rescored wallets, wide
    rows) are read once to write the open positions, not once by the delete and again by the
    insert."""
    await wash_world(5).finish(pool)
    settings = ReputationSettings()
    await run_reputation(pool, settings=settings, full=True)
    await _pad(pool, wash=False)  # positions of tokens no market knows: open
    await pool.execute(_MARK, CHANGED)
    await run_reputation(pool, settings=settings)  # their open positions stored
    await pool.execute(_MARK, CHANGED)  # changed again
    seen: dict[str, int] = {}
    save = unrealized.save

    async def counted(conn: asyncpg.Connection, *, incremental: bool) -> None:
        before = await _reads(conn, "rep_positions")
        await save(conn, incremental=incremental)
        after = await _reads(conn, "rep_positions")
        seen["read"] = after["rep_positions"] - before["rep_positions"]
        seen["rows"] = await conn.fetchval("SELECT count(*) FROM rep_positions")

    monkeypatch.setattr(unrealized, "save", counted)
    async with pool.acquire() as conn, conn.transaction():
        assert (await run_reputation(conn, settings=settings)).incremental
    assert seen["rows"] > 0 and seen["read"] > 0, seen
    assert seen["read"] <= seen["rows"], seen
