"""`listen --from-file` reads plain JSON lines of raw logs. A compressed or Parquet file given to
it (a `logs.jsonl.gz` download, a fills dump) is refused naming `orderflow import`, which reads
those, instead of becoming a dead letter per binary line (before 5 Dec 2026: exit 0, `0 trades
stored`, every line a dead letter in `orderflow_dead_letters`)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

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


@pytest.mark.parametrize(("make", "named"), [(_gzip, "gzip"), (_parquet, "Parquet")])
async def test_a_compressed_or_parquet_file_is_refused_naming_import(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path, make: object, named: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLYGON_", "DATABASE_"))}
    env.update(DATABASE_URL=dsn, ORDERFLOW_DATA_DIR=str(tmp_path), LOG_FORMAT="text")
    done = subprocess.run(
        [sys.executable, "-m", "orderflow", "listen", "--from-file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr and f"orderflow import {path}" in done.stderr
    dead = await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters")
    assert dead == 0
