"""`listen --from-file` reads plain JSON lines of raw logs. A compressed or Parquet file given to
it (a `logs.jsonl.gz` download, a fills dump) is refused naming `orderflow import`, which reads
those, instead of becoming a dead letter per binary line (before 5 Dec 2026: exit 0, `0 trades
stored`, every line a dead letter in `orderflow_dead_letters`). So is a text file none of whose
first lines is JSON (a CSV dump; before: a dead letter per row). A JSON-lines file with bad
lines, even at its top, still imports, each bad line a dead letter."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.cli_env import orderflow_env, run_orderflow

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "polymarket-logs.jsonl"


def _gzip(tmp_path: Path) -> Path:
    path = tmp_path / "logs.jsonl.gz"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    return path


def _parquet(tmp_path: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "fills.parquet"
    pq.write_table(pa.table({"transaction_hash": ["0x" + "11" * 32], "log_index": [0]}), path)
    return path


def _csv(tmp_path: Path) -> Path:
    """A fills dump as CSV (the layout `orderflow import` reads), more rows than are looked at."""
    from tests.history.dumps import fills_of, snake_row, write_csv

    rows = [snake_row(f) for f in fills_of(_sample_logs())]
    return write_csv(tmp_path / "fills.csv", rows * (40 // len(rows) + 1))


def _sample_logs() -> list[dict[str, object]]:
    return [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]


def _listen_from_file(dsn: str, tmp_path: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return run_orderflow(orderflow_env(dsn, tmp_path), "listen", "--from-file", str(path))


@pytest.mark.parametrize(
    ("make", "named"), [(_gzip, "gzip"), (_parquet, "Parquet"), (_csv, "not JSON lines")]
)
async def test_a_compressed_parquet_or_csv_file_is_refused_naming_import(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path, make: object, named: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    done = _listen_from_file(dsn, tmp_path, path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr and f"orderflow import {path}" in done.stderr
    dead = await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters")
    assert dead == 0


async def test_bad_lines_at_the_top_of_a_json_lines_file_are_dead_letters(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Data safety: the refusal above looks for any JSON among the first lines, so a raw-log
    file whose top lines are damaged is imported, those lines dead letters, nothing lost."""
    bad = ["block_number,transaction_hash", "garbage", '{"address": cut sho']
    path = tmp_path / "logs.jsonl"
    path.write_text("\n".join(bad) + "\n" + SAMPLE.read_text())
    done = _listen_from_file(dsn, tmp_path, path)
    assert done.returncode == 0, done.stdout + done.stderr
    dead = await pool.fetch("SELECT source_line FROM orderflow_dead_letters ORDER BY 1")
    assert [r["source_line"] for r in dead] == [1, 2, 3]
    from tests.history.dumps import fills_of

    stored = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    assert stored == len(fills_of(_sample_logs())) > 0
