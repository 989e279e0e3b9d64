"""An incremental run reads the stored per-wallet and per-position tables at the keys it changed,
not whole (``orderflow.reputation.probe``).

At 1 M wallets an hour changes ≈ 20,000 wallets (2 %): joined with the run's temp tables of those
keys, ``orderflow_wash_wallets`` (a row a wallet) and ``orderflow_position_sums`` (a row a
position) were planned as hash joins over sequential scans of the whole tables, ≈ 9 s of the
hour's counterparty, closing-line and positions stages (docs/benchmarks.md "The hourly run's
change-proportional stages at 1 M"). Here the same proportion: a few stored rows changed among
many unchanged ones (padding: wallets and positions no change touches), and the rows the stages
read of those tables are counted (``pg_stat_xact_user_tables``)."""

from __future__ import annotations

import math

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings, incremental, run_reputation, wash_state
from tests.reputation.test_wash_identity import SETTINGS
from tests.reputation.test_wash_state_hosts import _elsewhere
from tests.reputation.wash_state_step import CLAIM, CLAIMED, THIN, wash_step, wash_world

PADDING = 20_000  # unchanged wallets, one position each
CHANGED = 400  # of them marked changed (2 %, an hour's share at 1 M wallets)

_READ = """SELECT coalesce(sum(seq_tup_read), 0) + coalesce(sum(idx_tup_fetch), 0)
  FROM pg_stat_xact_user_tables WHERE relname = $1"""

# Wallets with one position each in a token of their own, their counterparty state as a build
# leaves a wallet that traded with no one (its share volume, no verdict): a copy of a stored
# position's sums under new keys.
_PAD_SUMS = """
INSERT INTO orderflow_position_sums
SELECT (jsonb_populate_record(NULL::orderflow_position_sums,
        to_jsonb(s) || jsonb_build_object(
            'wallet_address', '0xee' || lpad(to_hex(i), 38, '0'),
            'token_id', 7e75::numeric + i, 'trade_market_id', NULL))).*
  FROM (SELECT * FROM orderflow_position_sums WHERE fills > 0 ORDER BY wallet_address, token_id
         LIMIT 1) s
 CROSS JOIN generate_series(1, $1::int) i
"""
_PAD_WASH = """
INSERT INTO orderflow_wash_wallets (w, tot, ref1, off1, ref2)
SELECT s.wallet_address, (s.bought_gross_u + s.sold_gross_u)::numeric / 1000000, FALSE, FALSE,
       FALSE
  FROM orderflow_position_sums s WHERE s.wallet_address LIKE '0xee%'
"""
# some of them marked changed since the last run (the changed-keys log)
_MARK = """
INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)
SELECT wallet_address, token_id FROM orderflow_position_sums
 WHERE wallet_address LIKE '0xee%' ORDER BY token_id LIMIT $1
"""


async def _reads(conn: asyncpg.Connection, *tables: str) -> dict[str, int]:
    return {t: int(await conn.fetchval(_READ, t)) for t in tables}


async def _pad(pool: asyncpg.Pool, wash: bool) -> None:
    await pool.execute(_PAD_SUMS, PADDING)
    if wash:
        await pool.execute(_PAD_WASH)
    await pool.execute("ANALYZE orderflow_position_sums")
    await pool.execute("ANALYZE orderflow_wash_wallets")


async def changed_hour(
    pool: asyncpg.Pool, seed: int, padding: tuple[str, str] | None = None
) -> ReputationSettings:
    """A scored world (a full run, then an incremental one: the counterparty cells built), its
    tables padded with rows no change touches (``padding``: an insert of :data:`PADDING` rows,
    and the table it fills, analysed), and :data:`CHANGED` of its keys marked changed; the
    settings it was scored with."""
    await wash_world(seed).finish(pool)
    settings = ReputationSettings()
    await run_reputation(pool, settings=settings, full=True)
    await run_reputation(pool, settings=settings)  # the counterparty cells built
    await _pad(pool, wash=False)
    if padding is not None:
        insert, table = padding
        await pool.execute(insert, PADDING)
        await pool.execute(f"ANALYZE {table}")
    await pool.execute(_MARK, CHANGED)
    return settings


@pytest.mark.parametrize("seed", [6, 7])
async def test_the_counterparty_update_reads_the_changed_wallets_rows(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The share volumes of the changed wallets (their position sums) and the stored rows of
    those wallets (their volume and verdict) are read at those wallets: a handful of rows each,
    not the tables."""
    monkeypatch.setattr(wash_state, "REBUILD_SHARE", math.inf)
    settings = SETTINGS["default"]
    w = wash_world(seed)
    await w.finish(pool)
    await wash_step(pool, settings, build=True)
    await _pad(pool, wash=True)
    off = [r["w"] for r in await pool.fetch(
        "SELECT w FROM orderflow_wash_wallets WHERE off1 ORDER BY w LIMIT 2"
    )]  # fmt: skip
    await _elsewhere(w, pool, off, 100000.0)  # a real change: new fills, verdicts flipping
    await pool.execute(_MARK, CHANGED)
    tables = ("orderflow_position_sums", "orderflow_wash_wallets")
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        await conn.execute(CLAIM)
        await conn.execute(THIN)
        before = await _reads(conn, *tables)
        assert await wash_state.update(conn, as_of, settings, CLAIMED)
        after = await _reads(conn, *tables)
        flipped = await conn.fetchval("SELECT count(*) FROM rep_wash_f")
    read = {t: after[t] - before[t] for t in tables}
    assert flipped > 0, "the real change reached the update"
    # the changed wallets' rows (their positions, their stored row), read a few times over
    assert read["orderflow_position_sums"] <= 4 * CHANGED, read
    assert read["orderflow_wash_wallets"] <= 8 * CHANGED, read


@pytest.mark.parametrize("seed", [5, 7])
async def test_the_run_reads_the_positions_of_its_wallets_and_tokens(
    pool: asyncpg.Pool, seed: int
) -> None:
    """The changed tokens' positions (their closing lines) and the rescored wallets' positions
    are read from the sums at those tokens and wallets alone."""
    settings = await changed_hour(pool, seed)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
        as_of = await conn.fetchval("SELECT now()")
        before = await _reads(conn, "orderflow_position_sums")
        await incremental.build(conn, as_of, settings)
        after = await _reads(conn, "orderflow_position_sums")
        dirty = await conn.fetchval("SELECT count(*) FROM rep_dirty_wallets")
        own = await conn.fetchval(
            """SELECT count(*) FROM orderflow_position_sums s
                WHERE s.wallet_address IN (SELECT wallet_address FROM rep_dirty_wallets)
                   OR s.token_id IN (SELECT token_id FROM rep_dirty_tokens)"""
        )
        stored = await conn.fetchval("SELECT count(*) FROM orderflow_position_sums")
    read = after["orderflow_position_sums"] - before["orderflow_position_sums"]
    assert dirty >= CHANGED
    assert stored > 10 * own, (stored, own)
    # each stage reads the rows of its keys (the counterparty update, the changed tokens', the
    # rescored wallets'): a few passes over those, not one over the table
    assert read <= 4 * own, (read, own, stored)
