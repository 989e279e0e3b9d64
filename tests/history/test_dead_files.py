"""A file wrong as a whole — every row a dead letter for the same cause (a required column empty
in every row, a Parquet column of a type that cannot hold its field) — is refused once, naming
the column and the reason, storing nothing and leaving no dead letters; a file with a few bad
rows among good ones keeps its dead letters and imports the rest (control)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.chain.events import DecodedBatch
from orderflow.history import import_file
from orderflow.history.dead import dead_row
from orderflow.history.errors import LayoutError
from orderflow.history.whole_file import DEAD_FILE_ROWS, FirstRows
from tests.cli_env import orderflow_env, run_orderflow_async
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs

Rows = list[dict[str, Any]]


def many_rows(rows_wanted: int) -> Rows:
    """camelCase fill rows (with block hashes), copies of a simulated day's fills in other
    blocks and transactions, until there are ``rows_wanted``."""
    fills = [d.camel_row(f) for f in d.fills_of(sim_logs("v2", seed=45))]
    out: Rows = []
    copy = 0
    while len(out) < rows_wanted:
        for row in fills:
            out.append(
                {
                    **row,
                    "transactionHash": f"0x{copy:04x}" + row["transactionHash"][6:],
                    "blockNumber": row["blockNumber"] + copy * 1_000_000,
                    "blockHash": f"0x{copy:04x}" + row["blockHash"][6:],
                }
            )
        copy += 1
    return out[:rows_wanted]


async def _nothing_stored(pool: asyncpg.Pool) -> None:
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0


@pytest.mark.parametrize("batch_size", [100, 10_000])
async def test_a_csv_whose_required_column_is_empty_in_every_row_is_refused_once(
    pool: asyncpg.Pool, tmp_path: Path, batch_size: int
) -> None:
    rows = [{**r, "makerAmountFilled": ""} for r in many_rows(3_000)]
    path = d.write_csv(tmp_path / "fills.csv", rows)
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137, batch_size=batch_size)
    message = str(refused.value)
    judged = re.match(r"fills\.csv: its first ([\d,]+) rows are all dead letters", message)
    assert judged is not None and int(judged[1].replace(",", "")) >= DEAD_FILE_ROWS
    assert "column makerAmountFilled" in message and "maker amount is missing" in message
    await _nothing_stored(pool)


@pytest.mark.parametrize(("column", "workers"), [("tokenId", 0), ("tokenId", 1)])
async def test_a_parquet_column_of_floats_is_refused_once(
    pool: asyncpg.Pool, tmp_path: Path, column: str, workers: int
) -> None:
    rows = many_rows(3_000)
    table = pa.Table.from_pylist(rows)
    at = table.schema.get_field_index(column)
    floats = pa.array([float(r[column]) for r in rows], pa.float64())
    path = tmp_path / "fills.parquet"
    pq.write_table(table.set_column(at, column, floats), path)
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137, batch_size=500, workers=workers)
    assert f"column {column}: " in str(refused.value)
    await _nothing_stored(pool)


async def test_a_few_bad_rows_among_good_ones_are_dead_letters_as_before(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    rows = many_rows(3_000)
    for i in (0, 1, 2, 1_500, 2_999):
        rows[i]["makerAmountFilled"] = ""
    path = d.write_csv(tmp_path / "fills.csv", rows)
    report = await import_file(pool, path, chain_id=137, batch_size=100)
    assert report.dead_letters == 5
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 5
    assert report.stored.trades == len(rows) - 5


async def test_a_file_shorter_than_the_judged_rows_keeps_its_dead_letters(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    rows = [{**r, "makerAmountFilled": ""} for r in many_rows(DEAD_FILE_ROWS - 1)]
    path = d.write_csv(tmp_path / "fills.csv", rows)
    report = await import_file(pool, path, chain_id=137, batch_size=100)
    assert report.dead_letters == len(rows)
    assert report.stored.trades == 0


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("makerAmountFilled", pa.float64()),
        ("takerAmountFilled", pa.float32()),
        ("fee", pa.bool_()),
        ("makerAmountFilled", pa.timestamp("ms")),
    ],
)
async def test_a_parquet_amount_column_that_cannot_hold_one_is_refused_from_its_schema(
    pool: asyncpg.Pool, tmp_path: Path, column: str, kind: pa.DataType
) -> None:
    """Refused before a row is read: a file of a few rows (fewer than the judged rows) too."""
    rows = many_rows(20)
    table = pa.Table.from_pylist(rows)
    at = table.schema.get_field_index(column)
    path = tmp_path / "fills.parquet"
    values = pa.array([int(r[column]) for r in rows], pa.int64()).cast(kind, safe=False)
    pq.write_table(table.set_column(at, column, values), path)
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137)
    assert str(refused.value).startswith(f"fills.parquet: column {column} is {kind}, which holds")
    await _nothing_stored(pool)


async def test_the_command_refuses_it_as_it_refuses_a_layout(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Control: ``orderflow import`` exits 1 with ``orderflow: <the refusal>`` on stderr, as for
    a layout refused by its columns (test_cli.py); the files after it are not imported."""
    rows = many_rows(1_500)
    dead = d.write_csv(tmp_path / "fills.csv", [{**r, "makerAmountFilled": ""} for r in rows])
    good = d.write_csv(tmp_path / "good.csv", rows)
    refused = await run_orderflow_async(
        orderflow_env(dsn, tmp_path), "import", "--batch-size", "100", str(dead), str(good)
    )
    assert refused.returncode == 1, refused.stderr
    last = refused.stderr.splitlines()[-1]
    assert re.match(r"orderflow: fills\.csv: its first [\d,]+ rows are all dead letters", last)
    await _nothing_stored(pool)


def test_dead_rows_whose_reasons_differ_only_in_their_values_share_a_cause() -> None:
    """A time in another zone: each row's reason names its own time and block; one cause."""
    judge = FirstRows("fills.csv", "line", {"timestamp": "evt_block_time"}, rows=3)
    batch = DecodedBatch()
    for line in (2, 3, 4):
        reason = (
            f"the row's time 2025-02-20 0{line}:20:00+00:00 is not block {line}00's time "
            f"2025-02-20 0{line - 1}:20:00+00:00 (orderflow_blocks): a wrong block number"
        )
        batch.dead_letters.append(dead_row("fills.csv", "line", line, reason, 137))
    with pytest.raises(LayoutError) as refused:
        judge.held(batch)
    assert "its first 3 rows are all dead letters, all for the same cause, the row's time" in str(
        refused.value
    )


@pytest.mark.parametrize("workers", [0, 1])
async def test_json_lines_whose_required_field_is_null_in_every_row_are_refused_once(
    pool: asyncpg.Pool, tmp_path: Path, workers: int
) -> None:
    """The same rule for JSON lines, parsed here or in a worker process (one place: the decoded
    batch)."""
    rows = [{**r, "taker": None} for r in many_rows(2_000)]
    path = d.write_jsonl(tmp_path / "fills.jsonl", rows)
    with pytest.raises(LayoutError) as refused:
        await import_file(pool, path, chain_id=137, batch_size=300, workers=workers)
    assert "column taker: taker is missing (the first: fills.jsonl line 1: " in str(refused.value)
    await _nothing_stored(pool)
