"""Control: a Parquet dump's columns in the types writers choose — integers for amounts and log
indexes, strings for them, ``decimal(38, 0)``, dictionary-encoded names and addresses, 32-byte
binary hashes, an unsigned block number, a ``timestamp[ms]`` time — import as the listener stores
the chain's logs; a file of no rows or only a header imports nothing, and a zero-byte Parquet
file is refused naming it. These held on main (7 Dec 2026): a control, not a fix (a decimal of
scale 6 is the fix of test_hostile_values.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.ingest import ingest_logs
from orderflow.history import HistoryError, import_file
from tests.history import dumps as d
from tests.history.test_exactly_once import _assert_same, sim_logs

Rows = list[dict[str, Any]]


def _typed(column: str, kind: pa.DataType, value: Callable[[Any], Any]) -> Callable[..., Any]:
    def retype(table: pa.Table, rows: Rows) -> pa.Table:
        at = table.schema.get_field_index(column)
        values = pa.array([value(r[column]) for r in rows], kind)
        return table.set_column(at, column, values)

    return retype


def _dictionary(column: str) -> Callable[..., Any]:
    def retype(table: pa.Table, rows: Rows) -> pa.Table:
        at = table.schema.get_field_index(column)
        return table.set_column(at, column, table.column(column).dictionary_encode())

    return retype


TYPES = {
    "int64 amounts": _typed("maker_amount_filled", pa.int64(), int),
    "string log index": _typed("log_index", pa.string(), str),
    "decimal(38, 0)": _typed("taker_amount_filled", pa.decimal128(38, 0), Decimal),
    "dictionary contract": _dictionary("contract"),
    "dictionary maker": _dictionary("maker"),
    "binary(32) tx hash": _typed("transaction_hash", pa.binary(32), bytes.fromhex),
    "uint64 block": _typed("block_number", pa.uint64(), int),
    "timestamp[ms]": _typed("timestamp", pa.timestamp("ms"), lambda s: s * 1000),
}


@pytest.mark.parametrize("case", list(TYPES))
async def test_parquet_columns_of_other_types_import_as_the_chain_stores_them(
    pool: asyncpg.Pool, chain_pool: asyncpg.Pool, tmp_path: Path, case: str
) -> None:
    trades = (c.TOPIC_ORDER_FILLED_V1, c.TOPIC_ORDERS_MATCHED_V1)  # no markets: none imported
    logs = [raw for raw in sim_logs("v1", seed=5) if raw["topics"][0] in trades]
    await ingest_logs(chain_pool, logs, chain_id=137)
    await import_file(pool, d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs)), chain_id=137)
    await import_file(
        pool, d.write_parquet(tmp_path / "m.parquet", d.matches_of(logs)), chain_id=137
    )
    rows = [d.snake_row(f) for f in d.fills_of(logs)]
    table = TYPES[case](pa.Table.from_pylist(rows), rows)
    pq.write_table(table, tmp_path / "fills.parquet")
    report = await import_file(pool, tmp_path / "fills.parquet", chain_id=137)
    assert (report.stored.trades, report.dead_letters) == (len(rows), 0)
    await _assert_same(pool, chain_pool)


@pytest.mark.parametrize("shape", ["no rows.parquet", "header only.csv", "zero bytes.parquet"])
async def test_a_file_without_rows_imports_nothing(
    pool: asyncpg.Pool, tmp_path: Path, shape: str
) -> None:
    rows = [d.snake_row(f) for f in d.fills_of(sim_logs("v1", seed=5))]
    path = tmp_path / shape.replace(" ", "-")
    if shape.startswith("no rows"):
        pq.write_table(pa.Table.from_pylist(rows).slice(0, 0), path)
    elif shape.startswith("header"):
        path.write_text(",".join(rows[0]) + "\n")
    else:
        path.write_bytes(b"")
        with pytest.raises(HistoryError, match=r"zero-bytes\.parquet: not a readable Parquet file"):
            await import_file(pool, path, chain_id=137)
        return
    report = await import_file(pool, path, chain_id=137)
    assert (report.rows, report.dead_letters, report.last_block) == (0, 0, None)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0
