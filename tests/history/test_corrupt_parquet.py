"""A Parquet file whose footer is whole but one row group cannot be read (a corrupt page: a bad
disk block, a copy damaged in the middle) imports every other row group, makes the unreadable
group's rows one dead letter naming them, and stops naming the file without moving a checkpoint,
as a cut ``.gz`` file does. Before (5 Dec 2026) pyarrow's ``OSError: Couldn't deserialize
thrift … Deserializing page header failed`` ended the command in a traceback, naming no file,
and the row groups after the damaged one were never read."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orderflow.history import HistoryError, import_file
from tests.cli_env import orderflow_env
from tests.history import dumps as d
from tests.history.test_cli import run_cli
from tests.history.test_exactly_once import sim_logs

GROUP = 20  # rows per row group: 65 fills make four (20, 20, 20, 5)


def damaged(tmp_path: Path) -> tuple[Path, Path, list[tuple[str, int]]]:
    """(a blocks file, the fills file with its second row group damaged, the fills' ids)."""
    logs = sim_logs("v1", seed=31)
    rows = [d.snake_row(f) for f in d.fills_of(logs)]
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.Table.from_pylist(rows), whole, row_group_size=GROUP)
    meta = pq.ParquetFile(whole).metadata
    assert meta.num_row_groups == 4
    data = bytearray(whole.read_bytes())
    page = meta.row_group(1).column(3).data_page_offset  # a page header of rows 21-40
    data[page : page + 12] = b"\xff" * 12
    path = tmp_path / "fills.parquet"
    path.write_bytes(bytes(data))
    blocks = d.write_csv(tmp_path / "blocks.csv", d.blocks_of(logs))
    ids = [("0x" + r["transaction_hash"], r["log_index"]) for r in rows]
    return blocks, path, ids


async def stored(pool: asyncpg.Pool) -> set[tuple[str, int]]:
    rows = await pool.fetch("SELECT tx_hash, log_index FROM orderflow_trades")
    return {(r["tx_hash"], r["log_index"]) for r in rows}


@pytest.mark.parametrize("workers", [0, 2])
async def test_the_other_row_groups_are_imported(
    pool: asyncpg.Pool, tmp_path: Path, workers: int
) -> None:
    blocks, path, ids = damaged(tmp_path)
    await import_file(pool, blocks, chain_id=137)
    checkpoints = await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints")
    with pytest.raises(HistoryError) as exc:
        await import_file(pool, path, chain_id=137, workers=workers)
    assert str(exc.value).startswith(
        "fills.parquet: unreadable Parquet data (row group 2 of 4, rows 21-40)"
    )
    assert await stored(pool) == set(ids[:GROUP] + ids[2 * GROUP :])  # groups 1, 3 and 4
    dead = await pool.fetch("SELECT source_file, source_line, reason FROM orderflow_dead_letters")
    assert [(r["source_file"], r["source_line"]) for r in dead] == [("fills.parquet", 21)]
    assert "row group 2 of 4, rows 21-40" in dead[0]["reason"]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == checkpoints

    # a good copy afterwards stores the rest, nothing twice
    good = tmp_path / "good" / "fills.parquet"
    good.parent.mkdir()
    good.write_bytes((tmp_path / "whole.parquet").read_bytes())
    report = await import_file(pool, good, chain_id=137, workers=workers)
    assert report.dead_letters == 0
    assert await stored(pool) == set(ids)


async def test_the_command_names_the_rows_without_a_traceback(dsn: str, tmp_path: Path) -> None:
    blocks, path, _ = damaged(tmp_path)
    env = orderflow_env(dsn, tmp_path)
    assert (await run_cli(env, str(blocks))).returncode == 0
    done = await run_cli(env, str(path))
    assert done.returncode == 1
    assert "orderflow: fills.parquet: unreadable Parquet data (row group 2 of 4" in done.stderr
    assert "Traceback" not in done.stderr
