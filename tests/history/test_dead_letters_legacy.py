"""Dead letters of Parquet rows and JSON-array elements stored before migration 038 are the same
dead letters when their file is imported again, not a second copy of each bad row.

Before 038 such a dead letter's ``raw`` was ``{"file", "row": values}`` (the row number was in
the reason only); now it is ``{"file", "row": values, "row_number": n}``: another identity
(``raw_sha256``). Migration 038 gave the old rows their ``source_file`` / ``source_line`` from
the reason; a re-import recognises them by those and their values, and takes them over."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import store_sql as sql
from orderflow.chain.storable import storable_key
from orderflow.history import import_file
from orderflow.migrate import migrations_dir
from tests.history import dumps as d
from tests.history.test_markets import BTC, BTC_IDS, USDC, USDC_IDS, gamma

# Migration 038's backfill of the dead letters stored before it (everything from its UPDATE on).
_BACKFILL_038 = (migrations_dir() / "038_dead_letter_source.sql").read_text()
_BACKFILL_038 = _BACKFILL_038[_BACKFILL_038.index("UPDATE orderflow_dead_letters") :]


async def _as_stored_before_038(pool: asyncpg.Pool) -> None:
    """Rewrite every dead letter as the code before migration 038 stored it, then run 038's
    backfill on them."""
    for r in await pool.fetch("SELECT id, raw FROM orderflow_dead_letters"):
        raw = r["raw"] if isinstance(r["raw"], dict) else json.loads(r["raw"])
        assert raw.pop("row_number") is not None
        digest, text = storable_key(raw)
        await pool.execute(
            "UPDATE orderflow_dead_letters SET raw = $2::text::jsonb, raw_sha256 = $3,"
            " source_file = NULL, source_line = NULL, first_seen = now() - interval '1 day'"
            " WHERE id = $1",
            r["id"],
            text,
            digest,
        )
    await pool.execute(_BACKFILL_038)


@pytest.mark.parametrize("name", ["markets.json", "markets.parquet"])
async def test_a_re_import_takes_over_the_dead_letters_stored_before_migration_038(
    pool: asyncpg.Pool, tmp_path: Path, name: str
) -> None:
    rows = [
        gamma(BTC, BTC_IDS),
        gamma("0x12", BTC_IDS),
        gamma(USDC, USDC_IDS),
        gamma("0x34", USDC_IDS),
    ]
    path = tmp_path / name
    (d.write_json_array if name.endswith(".json") else d.write_parquet)(path, rows)
    await import_file(pool, path, chain_id=137)
    await _as_stored_before_038(pool)
    before = await pool.fetch(
        "SELECT source_file, source_line, first_seen FROM orderflow_dead_letters"
        " ORDER BY source_line"
    )
    assert [(r["source_file"], r["source_line"]) for r in before] == [(name, 2), (name, 4)]

    report = await import_file(pool, path, chain_id=137)
    assert report.dead_letters == 2
    after = await pool.fetch(
        "SELECT source_line, times_seen, first_seen, raw ? 'row_number' AS new"
        " FROM orderflow_dead_letters ORDER BY source_line"
    )
    assert [(r["source_line"], r["times_seen"], r["new"]) for r in after] == [
        (2, 2, True),
        (4, 2, True),
    ]
    assert [r["first_seen"] for r in after] == [r["first_seen"] for r in before]


async def test_the_take_over_and_a_files_bad_rows_are_found_by_an_index(
    pool: asyncpg.Pool,
) -> None:
    """The plans, not a timing: with 20,000 dead letters both read an index on (source_file,
    source_line) (migration 041), not every dead letter."""
    await pool.execute(
        "INSERT INTO orderflow_dead_letters"
        " (raw_sha256, chain_id, reason, raw, source_file, source_line)"
        " SELECT md5(i::text), 137, 'bad', jsonb_build_object('x', i),"
        "        'f' || (i % 20) || '.parquet', i / 20"
        "   FROM generate_series(1, 20000) i"
    )
    await pool.execute("ANALYZE orderflow_dead_letters")
    raw = '{"file": "f7.parquet", "row": {"x": 1}, "row_number": 30}'
    async with pool.acquire() as conn, conn.transaction():
        merge = await conn.fetch(
            f"EXPLAIN {sql.MERGE_PRE_038_DEAD_LETTERS}", 137, ["f7.parquet"], [30], [raw]
        )
        lookup = await conn.fetch(
            "EXPLAIN SELECT reason FROM orderflow_dead_letters WHERE source_file = $1"
            " ORDER BY source_line",
            "f7.parquet",
        )
    for plan in (merge, lookup):
        text = "\n".join(r[0] for r in plan)
        assert "orderflow_dead_letters_source" in text, text
