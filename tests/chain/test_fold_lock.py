"""The fold beside the batches (migration 080): a fold of a bulk import's deferred sums holds its
own lock, not the writer lock, so the import's next batches are stored while it runs; what asks
which rows are pending and acts on it (a rollback, an update of a column the sums read) waits for
the fold in progress, and the sums and wallet counters end equal to a fresh aggregation."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from orderflow import db
from orderflow.chain import ingest, pending_sums
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import RollbackStats, rollback_from
from tests.chain.test_bulk_sums import counted_folds, not_folded, ordered_logs, split_by_block
from tests.execution.conftest import wait_for
from tests.reputation.test_incremental_sums import assert_sums_match

WAIT_SECS = 30.0  # a safety net: reached only when the test fails


@pytest.fixture
def no_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports leave their sums pending (as one killed before its fold would)."""
    monkeypatch.setattr(ingest, "fold_in", not_folded)


async def _waiting_on_a_lock(pool: asyncpg.Pool) -> bool:
    """Whether some session waits for an advisory lock (the fold lock)."""
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)"
        )
    )


async def test_a_bulk_batch_is_stored_while_a_fold_is_in_progress(
    pool: asyncpg.Pool, no_fold: None
) -> None:
    """Before, the fold took the writer lock: no batch was stored until it committed."""
    first, second = split_by_block(ordered_logs(7), 2)
    await ingest_logs(pool, first, chain_id=137, batch_size=60, bulk=True)
    async with pool.acquire() as folding:
        fold = folding.transaction()
        await fold.start()
        assert await folding.fetchval(pending_sums.FOLD) == 1  # folded, not committed
        async with asyncio.timeout(WAIT_SECS):
            stored = await ingest_logs(pool, second, chain_id=137, batch_size=60, bulk=True)
        assert stored.stored.trades > 0
        await fold.commit()
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 1  # the batches' own range: not the fold's
        assert await pending_sums.fold(conn) == 1
    assert await assert_sums_match(pool) > 50


async def test_a_fold_folds_the_ranges_it_claimed_and_no_batch_after(
    pool: asyncpg.Pool, no_fold: None
) -> None:
    """Migration 081: a batch stored after a fold's claim, before its fold, records a range of
    its own and keeps it for the next fold (before, the fold took whatever was pending when its
    statement got there: the import's due points folded nothing or another point's rows)."""
    first, second = split_by_block(ordered_logs(7), 2)
    await ingest_logs(pool, first, chain_id=137, batch_size=60, bulk=True)
    async with pool.acquire() as folding, folding.transaction():
        claimed = await folding.fetchval(pending_sums.CLAIM)
        assert len(claimed) == 1
        async with asyncio.timeout(WAIT_SECS):
            await ingest_logs(pool, second, chain_id=137, batch_size=60, bulk=True)
        assert await folding.fetchval(pending_sums.FOLD_CLAIMED, claimed) == 1
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 1  # the second import's
        assert await pending_sums.fold(conn) == 1
    assert await assert_sums_match(pool) > 50


async def test_folding_ranges_not_claimed_is_refused(pool: asyncpg.Pool, no_fold: None) -> None:
    """The claimed fold folds what its transaction claimed, nothing it did not: a range another
    transaction holds, or one no longer pending, is an error, and nothing is folded."""
    await ingest_logs(pool, ordered_logs(7), chain_id=137, batch_size=60, bulk=True)
    (held,) = await pool.fetchval(pending_sums.CLAIM)  # claimed, and let go: a fold not done
    async with pool.acquire() as holder, holder.transaction():
        assert await holder.fetchval(pending_sums.CLAIM) == [held]
        async with pool.acquire() as other, other.transaction():
            with pytest.raises(asyncpg.PostgresError, match="fold of ranges not claimed"):
                await other.fetchval(pending_sums.FOLD_CLAIMED, [held])
    with pytest.raises(asyncpg.PostgresError, match="fold of ranges not claimed"):
        await pool.fetchval(pending_sums.FOLD_CLAIMED, [held + 10**9])  # no such range
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 1
        assert await pending_sums.fold(conn) == 1
    assert await assert_sums_match(pool) > 50


@pytest.mark.parametrize("change", ["rollback", "update"])
async def test_a_change_of_pending_rows_during_a_fold_waits_for_it(
    pool: asyncpg.Pool, no_fold: None, change: str
) -> None:
    """A rollback through pending rows, or an update of a column the sums read (an amount),
    while a fold holds those rows: each waits for the fold's commit, then counts the rows as
    folded. Without the wait the fold would add the rows as they were and the change would leave
    them out as pending: sums (or wallet counters) off by those rows."""
    logs = ordered_logs(11)
    await ingest_logs(pool, logs, chain_id=137, batch_size=60, bulk=True)
    fork = int(logs[len(logs) // 2]["blockNumber"], 16)

    async def rollback() -> RollbackStats:
        async with pool.acquire() as conn:
            return await rollback_from(conn, 137, fork)

    async def update() -> str:
        status: str = await pool.execute(  # a column the sums read: every third fill's amount
            "UPDATE orderflow_trades SET usdc_size = usdc_size / 2 WHERE log_index % 3 = 0"
        )
        return status

    async with pool.acquire() as folding:
        fold = folding.transaction()
        await fold.start()
        assert await folding.fetchval(pending_sums.FOLD) == 1
        task = asyncio.create_task(rollback() if change == "rollback" else update())
        try:
            await wait_for(lambda: _waiting_on_a_lock(pool), timeout=WAIT_SECS)
            assert not task.done()
        finally:
            await fold.commit()
        done = await task
    if isinstance(done, RollbackStats):
        assert done.trades > 0
    else:
        assert done != "UPDATE 0"
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 0
    assert await assert_sums_match(pool, counters=change == "rollback") > 50


async def test_a_file_import_on_a_pool_of_one_connection_folds_between_its_batches(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pool of one has no connection for a fold beside the batches: the import folds between
    them instead (each batch gives its connection back), as it goes and at its end."""
    logs = ordered_logs(7)
    folds = counted_folds(monkeypatch, ingest, "fold_in")
    monkeypatch.setattr(pending_sums, "BACKGROUND_FOLD_FILLS", 100)
    one = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        async with asyncio.timeout(WAIT_SECS):
            await ingest_logs(one, logs, chain_id=137, batch_size=60, bulk=True)
        assert len(folds) > 5 and all(folds)  # every one between two batches folded a range
        async with one.acquire() as conn:
            assert await pending_sums.pending(conn) == 0
        assert await assert_sums_match(one) > 50
    finally:
        await one.close()
