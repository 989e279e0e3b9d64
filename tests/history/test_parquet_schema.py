"""Control: a Parquet file whose schema gives a column a type no value of its field can have
(amounts as doubles, structs or lists, a log index as a boolean) stores nothing of it: every
row is a dead letter naming the field and the value, and the import ends normally (as a
``decimal(38, 6)`` amount column is refused row by row, test_hostile_values.py). This held on
main (7 Dec 2026): a control, not a fix. Refusing such a file before its first row, naming the
column, would spare a wrong-schema dump of a billion fills its billion dead letters; that is a
choice against the row-by-row precedent above, left to the lead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs

RETYPE: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "double": ("makerAmountFilled", float, "maker amount is not a whole number: "),
    "struct": ("makerAmountFilled", lambda v: {"x": str(v)}, "maker amount is not a whole"),
    "list": ("takerAmountFilled", lambda v: [str(v)], "taker amount is not a whole number: ["),
    "bool": ("logIndex", lambda v: True, "log index is not a whole number: True"),
}


@pytest.mark.parametrize("how", list(RETYPE))
async def test_a_column_of_a_type_no_value_can_have_stores_nothing(
    pool: asyncpg.Pool, tmp_path: Path, how: str
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    column, retype, reason = RETYPE[how]
    columns = {k: [f[k] for f in fills] for k in fills[0]}
    columns[column] = [retype(v) for v in columns[column]]
    path = tmp_path / "fills.parquet"
    pq.write_table(pa.table(columns), path)
    report = await import_file(pool, path, chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (0, len(fills))
    reasons = await pool.fetch("SELECT reason FROM orderflow_dead_letters")
    assert all(r["reason"].split(": ", 1)[1].startswith(reason) for r in reasons)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0
