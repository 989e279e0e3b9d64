"""Hostile values in a dump's rows: each one a dead letter naming its field (or a spelling the
import accepts and normalises), the rest of the file imported (docs/history.md "Bad rows")."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import asyncpg
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
