"""Hostile values in a dump's rows: each one a dead letter naming its field (or a spelling the
import accepts and normalises), the rest of the file imported (docs/history.md "Bad rows")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.history import import_file
from orderflow.history.rows import RowError, timestamp, uint
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


async def test_a_block_past_bigint_with_its_own_block_hash_is_a_dead_letter(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Before: the batch's block lookup sent 2**63 to PostgreSQL and the import ended in
    asyncpg's ``DataError … (value out of int64 range)``, naming no file, nothing stored."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    fills[3] = {**fills[3], "blockNumber": 2**63}
    path = d.write_jsonl(tmp_path / "fills.jsonl", fills)
    report = await import_file(pool, path, chain_id=137, hand_over=False)
    assert (report.stored.trades, report.dead_letters) == (len(fills) - 1, 1)
    reason = await pool.fetchval("SELECT reason FROM orderflow_dead_letters")
    assert reason.startswith("fills.jsonl line 4: blockNumber 0x8000000000000000 exceeds")


@pytest.mark.parametrize(
    "spelling", ["0x1_0", "0x_10", "0X1_0", "1_6", "+16", "-16", "1.6e1", "NaN", "0x", "0xg"]
)
def test_an_amount_in_a_spelling_no_export_writes_is_refused(spelling: str) -> None:
    """Before: ``0x1_0`` and ``0x_10`` were read as 16 (Python's ``int`` takes underscores),
    where the listener's decoder refuses the same quantity (``fields.quantity``)."""
    with pytest.raises(RowError, match="maker amount"):
        uint(spelling, "maker amount")


@pytest.mark.parametrize("spelling", ["16", " 16 ", "0x10", "0X10", "\t0x10\n", 16, Decimal("16")])
def test_an_amount_in_decimal_or_hex_is_read(spelling: object) -> None:
    assert uint(spelling, "maker amount") == 16


@pytest.mark.parametrize("spelling", ["\u00b2", "\u0661\u0666\u0666\u0669", "\uff11\uff16"])
def test_a_time_in_digits_other_than_ascii_is_refused_naming_the_field(spelling: str) -> None:
    """Before: '²' gave the dead letter ``invalid literal for int() with base 10: '²'`` (no
    field named) and Arabic-Indic or full-width digits were read as unix seconds."""
    with pytest.raises(RowError, match="timestamp is not unix seconds or ISO 8601"):
        timestamp(spelling)


@pytest.mark.parametrize("scale", [0, 6])
async def test_a_parquet_decimal_column_of_fractional_units_is_refused_whole(
    pool: asyncpg.Pool, tmp_path: Path, scale: int
) -> None:
    """A ``decimal(38, 6)`` amount column holds amounts in USDC, not base units. Before: the
    rows whose value happened to be whole (``Decimal('5.000000')``) were stored as 5 base units,
    a millionth of the fill, the others dead letters; ``decimal(38, 0)`` is base units (stored)."""
    logs = sim_logs("v1", seed=5)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    rows = [d.snake_row(f) for f in d.fills_of(logs)]
    rows[0]["maker_amount_filled"] = "5000000"  # a whole 5 USDC
    table = pa.Table.from_pylist(rows)
    units = [Decimal(r["maker_amount_filled"]).scaleb(-scale) for r in rows]
    at = table.schema.get_field_index("maker_amount_filled")
    decimals = pa.array(units, pa.decimal128(38, scale))
    pq.write_table(table.set_column(at, "maker_amount_filled", decimals), tmp_path / "f.parquet")
    report = await import_file(pool, tmp_path / "f.parquet", chain_id=137, hand_over=False)
    if scale == 0:
        assert (report.stored.trades, report.dead_letters) == (len(rows), 0)
        return
    assert (report.stored.trades, report.dead_letters) == (0, len(rows))
    first = await pool.fetchval("SELECT reason FROM orderflow_dead_letters ORDER BY source_line")
    assert first == "f.parquet row 1: maker amount is not a whole number: Decimal('5.000000')"


@pytest.mark.parametrize(
    "index",
    ["\uff12\uff10\uff14", "\u0662\u0660\u0664", "2\u00b2"],
    ids=["fullwidth", "arabic", "sup"],
)
@pytest.mark.parametrize("spelling", ["{tx}-{i}", "{tx}_{i}", "137_35896869_{i}"])
def test_a_log_id_in_digits_other_than_ascii_derives_no_log_index(
    index: str, spelling: str
) -> None:
    """Before: a log id's ``\\d`` took any Unicode digit — full-width or Arabic-Indic digits
    after ``0x…-`` were read as log index 204, where the row's own log index column, and the
    listener's decoder, refuse them; now such an id derives none (a dead letter of its line)."""
    from orderflow.history.log_ids import read_log_id

    tx = "0x" + "ab" * 32
    assert read_log_id(spelling.format(tx=tx, i="204")) is not None  # the ASCII spelling
    assert read_log_id(spelling.format(tx=tx, i=index)) is None
