"""A Parquet file whose schema gives a column a type no value of its field can have (amounts
as doubles, structs or lists, a log index as a boolean) is refused from its schema, before a
row is read, naming the column and its type: nothing stored, no dead letter, no checkpoint
moved (``whole_file.refuse_unholdable``). Until 7 Dec 2026 (a control here then) every row was a
dead letter naming the field and the value and the import ended normally: a wrong-schema dump
of a billion fills left a billion dead letters. A ``decimal(38, 6)`` amount column, whose
whole values read, is still judged row by row (test_hostile_values.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.history import import_file
from orderflow.history.errors import LayoutError
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs

RETYPE: dict[str, tuple[str, Callable[[Any], Any], str]] = {
    "double": ("makerAmountFilled", float, "double"),
    "struct": ("makerAmountFilled", lambda v: {"x": str(v)}, "struct<x: string>"),
    "list": ("takerAmountFilled", lambda v: [str(v)], "list<element: string>"),
    "bool": ("logIndex", lambda v: True, "bool"),
}


@pytest.mark.parametrize("how", list(RETYPE))
async def test_a_column_of_a_type_no_value_can_have_is_refused_from_the_schema(
    pool: asyncpg.Pool, tmp_path: Path, how: str
) -> None:
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=7))]
    column, retype, kind = RETYPE[how]
    columns = {k: [f[k] for f in fills] for k in fills[0]}
    columns[column] = [retype(v) for v in columns[column]]
    path = tmp_path / "fills.parquet"
    pq.write_table(pa.table(columns), path)
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137)
    assert str(refused.value).startswith(
        f"fills.parquet: column {column} is {kind}, which holds no whole number: "
    )
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0
