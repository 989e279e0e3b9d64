"""A CSV line with a quote that opens a field and never closes it (a stray ``"``: a hand edit, a
damaged copy) is one dead letter, and the lines after it are read as the rows they are.

A quote at the start of a field makes the reader take everything up to the next quote as that
field, line ends included: in a fill dump, which quotes nothing, the rest of the file. Until 6 Dec
2026 that was one dead letter (``fills.csv line 6: 2 fields where the header has 13``) and every
later row of the file was gone without a word — the import reported success and handed over its
last stored block, so a next file's hand-over skipped those blocks for good; past the reader's 16
MB field limit it ended in ``_csv.Error: field larger than field limit``, naming no file."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.compare import rows
from tests.history.test_cut_csv import _by_identity
from tests.history.test_exactly_once import sim_logs


async def _stray_quote(pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path) -> Any:
    logs = sim_logs("v1", seed=11)
    await ingest_logs(chain_pool, logs, chain_id=137)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    path = d.write_csv(tmp_path / "fills.csv", [d.dune_row(f) for f in d.fills_of(logs)])
    lines = path.read_bytes().split(b"\r\n")
    lines[5] = lines[5].replace(b",", b',"', 1)  # line 6: a quote opens its second field
    path.write_bytes(b"\r\n".join(lines))
    return await import_file(pool, path, chain_id=137, batch_size=16)


async def _assert_only_line_6_lost(pool: asyncpg.Pool, chain_pool: asyncpg.Pool) -> None:
    reference = _by_identity(await rows(chain_pool, "orderflow_trades"))
    stored = _by_identity(await rows(pool, "orderflow_trades"))
    assert len(stored) == len(reference) - 1, f"{len(stored)} of {len(reference)} stored"
    assert all(stored[k] == reference[k] for k in stored)
    [(line, reason)] = await pool.fetch("SELECT source_line, reason FROM orderflow_dead_letters")
    assert line == 6 and reason.startswith("fills.csv line 6: a quote opens a field"), reason


async def test_a_stray_quote_is_one_dead_letter_and_the_rows_after_it_are_read(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    report = await _stray_quote(pool, chain_pool, tmp_path)
    await _assert_only_line_6_lost(pool, chain_pool)
    assert report.dead_letters == 1


@pytest.fixture
def small_field_limit() -> Any:
    """The reader's field limit lowered (16 MB: a test file past it would be slow to import)."""
    before = csv.field_size_limit(2000)
    yield
    csv.field_size_limit(before)


async def test_a_stray_quote_past_the_field_limit_is_no_csv_error(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, small_field_limit: None
) -> None:
    await _stray_quote(pool, chain_pool, tmp_path)
    await _assert_only_line_6_lost(pool, chain_pool)
