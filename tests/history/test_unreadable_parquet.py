"""A ``.parquet`` file that is not one (a download cut short: Parquet's footer, its schema and
row count, is at the end; another file under that name) stops the import naming the file, as a
cut ``.gz`` file does, never with pyarrow's traceback (before 5 Dec 2026: ``ArrowInvalid:
Parquet magic bytes not found in footer`` from inside the reader, naming no file)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.history import HistoryError, import_file
from tests.cli_env import orderflow_env
from tests.history import dumps as d
from tests.history.test_cli import run_cli
from tests.history.test_exactly_once import sim_logs


def cut_parquet(tmp_path: Path) -> Path:
    logs = sim_logs("v1", seed=31)
    whole = d.write_parquet(tmp_path / "whole.parquet", [d.snake_row(f) for f in d.fills_of(logs)])
    data = whole.read_bytes()
    cut = tmp_path / "fills.parquet"
    cut.write_bytes(data[: len(data) // 2])
    return cut


async def test_a_cut_parquet_file_is_refused_naming_it(pool: asyncpg.Pool, tmp_path: Path) -> None:
    with pytest.raises(HistoryError) as exc:
        await import_file(pool, cut_parquet(tmp_path), chain_id=137)
    assert str(exc.value).startswith("fills.parquet: not a readable Parquet file")
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_sync_checkpoints") == 0


async def test_the_command_says_so_without_a_traceback(dsn: str, tmp_path: Path) -> None:
    path = cut_parquet(tmp_path)
    done = await run_cli(orderflow_env(dsn, tmp_path), str(path))
    assert done.returncode == 1
    assert "orderflow: fills.parquet: not a readable Parquet file" in done.stderr
    assert "Traceback" not in done.stderr
