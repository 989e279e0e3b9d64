"""Control: a fill imported more than once — twice in one file, in two overlapping files, the
same file imported twice, a dump and then the chain's backfill of its blocks — is one trade,
and the per-(wallet, token) sums and wallet counters the reputation reads are those of the
listener's own store of the chain's logs, folded once (bulk and batch by batch). These held on
main (7 Dec 2026): a control, not a fix."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from tests.chain.test_bulk_sums import state
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, sim_logs


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "batches"])
@pytest.mark.parametrize("how", ["twice_in_file", "two_files", "imported_twice", "backfill"])
async def test_a_fill_imported_more_than_once_is_counted_once(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, how: str, bulk: bool
) -> None:
    logs = sim_logs("v2", seed=3)
    await ingest_logs(chain_pool, logs, chain_id=137, batch_size=37)
    rows = [d.camel_row(f) for f in d.fills_of(logs)]
    half = len(rows) // 2
    files = {
        "twice_in_file": [[r for r in rows for _ in (0, 1)]],
        "two_files": [rows[: half + 10], rows[half - 10 :]],
        "imported_twice": [rows, rows],
        "backfill": [rows],
    }[how]
    for i, part in enumerate(files):
        path = d.write_jsonl(tmp_path / f"fills{i}.jsonl", part)
        report = await import_file(pool, path, chain_id=137, batch_size=16, bulk=bulk)
        assert report.dead_letters == 0
    # the chain's logs afterwards (a backfill of the dump's blocks), or at least its matches
    again = await ingest_logs(pool, logs, chain_id=137, batch_size=50, bulk=bulk)
    assert again.stored.trades == 0
    await _assert_same(pool, chain_pool)
    assert await state(pool) == await state(chain_pool)
