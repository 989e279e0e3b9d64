"""``orderflow import`` in bulk mode: the per-(wallet, token) sums of the imported fills end up
as the listener's batch-by-batch store leaves them, whether the import folds them itself or a
later fold (the reputation run's) does after an import that stopped before its end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow import db
from orderflow.chain import pending_sums
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.partition_indexes import build_missing
from orderflow.history import import_file
from orderflow.history import run as history_run
from tests.chain.test_bulk_sums import counted_folds, not_folded, state
from tests.chain.test_deferred_indexes import indexes
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, gamma_rows, sim_logs


def counted_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The partitions ``orderflow import`` built the deferred indexes of (a spy on the real
    function)."""
    built: list[str] = []
    real = build_missing  # what orderflow.history.run imported

    async def spy(conn: asyncpg.Connection) -> list[str]:
        done = await real(conn)
        built.extend(done)
        return done

    monkeypatch.setattr(history_run, "build_missing", spy)
    return built


async def _files(
    tmp_path: Path, logs: list[dict[str, Any]], chain_pool: asyncpg.Pool
) -> list[Path]:
    fills = [d.camel_row(f) for f in d.fills_of(logs)]
    return [
        d.write_jsonl(tmp_path / "fills.jsonl.gz", fills),
        d.write_parquet(tmp_path / "matches.parquet", d.matches_of(logs, block_hash=True)),
        d.write_jsonl(tmp_path / "markets.jsonl", await gamma_rows(chain_pool)),
    ]


@pytest.mark.parametrize("folded_by", ["the import", "a later fold", "the import as it goes"])
async def test_a_bulk_import_leaves_the_sums_of_the_listeners_store(
    pool: asyncpg.Pool,
    chain_pool: asyncpg.Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    folded_by: str,
) -> None:
    logs = sim_logs("v2", seed=13)
    reference = await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    assert reference.stored.trades > 20
    if folded_by == "a later fold":
        monkeypatch.setattr(history_run, "fold_in", not_folded)
    folds: list[int] = []
    if folded_by == "the import as it goes":
        folds = counted_folds(monkeypatch, history_run, "fold_in")
        monkeypatch.setattr(pending_sums, "BACKGROUND_FOLD_FILLS", 5)
    built = counted_builds(monkeypatch)
    for path in await _files(tmp_path, logs, chain_pool):
        report = await import_file(pool, path, chain_id=137, batch_size=16, bulk=True)
        assert report.dead_letters == 0
        if folded_by == "the import as it goes" and path.name.startswith("fills"):
            # every few batches, then its end: each of the ranges pending when it was due
            assert len(folds) > 3 and all(folds[:-1])
    await _assert_same(pool, chain_pool)
    async with pool.acquire() as conn:
        left = await pending_sums.pending(conn)
        if folded_by == "a later fold":
            assert left > 0
            assert await pending_sums.fold(conn) == left
        else:
            assert left == 0
        assert await pending_sums.pending(conn) == 0
    assert await state(pool) == await state(chain_pool)
    # the deferrable indexes it left out of the partition it started empty (migration 072) are
    # built at its end: the same per-partition indexes as the listener's store
    assert built
    assert await indexes(pool) == await indexes(chain_pool)


async def test_an_import_on_a_pool_of_one_connection_folds_between_its_batches(
    dsn: str, chain_pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import holds its connection until it ends, so a fold beside it on a pool of one would
    wait for that connection for ever (`benchmarks/history_import.py`, which opened such a
    pool until it took two, hung): it folds on the import's own connection, between batches."""
    logs = sim_logs("v2", seed=13)
    await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    monkeypatch.setattr(pending_sums, "BACKGROUND_FOLD_FILLS", 5)
    folds = counted_folds(monkeypatch, pending_sums, "fold")
    one = await db.create_pool(dsn, min_size=1, max_size=1)
    try:
        async with asyncio.timeout(120):  # a safety net: reached only when it hangs
            for path in await _files(tmp_path, logs, chain_pool):
                await import_file(one, path, chain_id=137, batch_size=16, bulk=True)
        async with one.acquire() as conn:
            assert await pending_sums.pending(conn) == 0
        assert sum(1 for f in folds if f) > 3  # as it went, not only at the end
        await _assert_same(one, chain_pool)
        assert await state(one) == await state(chain_pool)
    finally:
        await one.close()
