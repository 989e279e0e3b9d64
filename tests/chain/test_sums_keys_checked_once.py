"""Migration 107: the per-(wallet, token) sums take their keys from stored fills, whose
``evm_address`` / ``uint256`` domains were checked when the fills were stored; the sums' writers
do not check them again.

Until 107 the sums' aggregate (``orderflow_position_sums_sql``) cast the keys to their base
types (``text``, ``numeric``), so every upsert of the sums, every append to the changed-keys log
and every counters' row coerced them back into the domains: the hex check a fill's wallet had
passed at its insert was run again for each key of each fold (three times: sums, log,
counters). Shown here by a domain constraint added ``NOT VALID`` after the fills were stored,
which rejects one stored wallet: a writer that checks stored keys again fails on it; one that
does not folds as before. The sums still equal a fresh aggregation of the trades.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain import ingest, pending_sums
from orderflow.chain.ingest import ingest_logs
from tests.chain.test_bulk_sums import not_folded, ordered_logs
from tests.reputation.test_incremental_sums import assert_sums_match

# A check no stored value has had to pass: it holds for every value written from now on.
REJECT_WALLET = (
    "ALTER DOMAIN evm_address ADD CONSTRAINT not_this_wallet CHECK (VALUE <> '{}') NOT VALID"
)
REJECT_TOKEN = "ALTER DOMAIN uint256 ADD CONSTRAINT not_this_token CHECK (VALUE <> {}) NOT VALID"


async def _reject_a_stored_key(pool: asyncpg.Pool) -> None:
    """One stored fill's wallet and token fail their domains from now on."""
    row = await pool.fetchrow(
        "SELECT wallet_address, token_id FROM orderflow_trades ORDER BY id LIMIT 1"
    )
    await pool.execute(REJECT_WALLET.format(row["wallet_address"]))
    await pool.execute(REJECT_TOKEN.format(row["token_id"]))


async def test_a_fold_does_not_check_the_stored_keys_again(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "fold_in", not_folded)
    await ingest_logs(pool, ordered_logs(7), chain_id=137, batch_size=40, bulk=True)
    await _reject_a_stored_key(pool)
    async with pool.acquire() as conn:
        assert await pending_sums.fold(conn) >= 1
        assert await pending_sums.pending(conn) == 0
    await assert_sums_match(pool)
    logged = await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_changes")
    assert logged == await pool.fetchval("SELECT count(*) FROM orderflow_position_sums")


async def test_the_update_trigger_does_not_check_the_stored_keys_again(
    pool: asyncpg.Pool,
) -> None:
    await ingest_logs(pool, ordered_logs(7), chain_id=137, batch_size=100)
    await _reject_a_stored_key(pool)
    # a change of every fill's fee: the update trigger moves each changed row's contribution
    changed = await pool.execute("UPDATE orderflow_trades SET fee = fee + 1")
    assert int(changed.split()[-1]) > 300
    await assert_sums_match(pool, counters=False)


async def test_a_new_fill_is_still_checked_at_its_insert(pool: asyncpg.Pool) -> None:
    """Control (passes on main too): the domains still guard what is stored: a fill whose
    wallet fails the domain is not stored, so the sums never see a key that was not checked."""
    logs = ordered_logs(7)
    await ingest_logs(pool, logs[:200], chain_id=137, batch_size=100)
    await _reject_a_stored_key(pool)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO orderflow_position_sums_changes (wallet_address, token_id)"
            " SELECT wallet_address::text, token_id::numeric FROM orderflow_trades"
            " ORDER BY id LIMIT 1"
        )
