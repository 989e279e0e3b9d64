"""``orderflow import`` as a process, and its progress (terminal line and Prometheus metrics)."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import asyncpg
from prometheus_client import generate_latest

from orderflow.history import import_file
from orderflow.progress import Progress
from orderflow.telemetry import setup_metrics
from tests.cli_env import orderflow_env, run_orderflow_async
from tests.history import dumps as d
from tests.history.test_exactly_once import sim_logs


async def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await run_orderflow_async(env, "import", *args)


async def test_import_command_imports_in_order_and_refuses_by_name(
    dsn: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    logs = sim_logs("v1", seed=31)
    fills = d.fills_of(logs)
    blocks = d.write_csv(tmp_path / "blocks.csv.gz", d.blocks_of(logs))
    dump = d.write_parquet(tmp_path / "fills.parquet", [d.snake_row(f) for f in fills])
    done = await run_cli(orderflow_env(dsn, tmp_path), "--workers", "1", str(blocks), str(dump))
    assert done.returncode == 0, done.stderr
    assert f"{len(fills)} trades stored (0 already present)" in done.stdout
    assert "(the listener continues from the next)" in done.stdout
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == len(fills)

    subgraph = d.write_csv(tmp_path / "orderFilledEvents.csv", [d.subgraph_row(f) for f in fills])
    refused = await run_cli(orderflow_env(dsn, tmp_path), str(subgraph))
    assert refused.returncode == 1
    assert "lack log_index (logIndex / log_index / evt_index)" in refused.stderr

    wrong_kind = await run_cli(orderflow_env(dsn, tmp_path), "--kind", "markets", str(dump))
    assert wrong_kind.returncode == 1 and "not markets rows" in wrong_kind.stderr
    missing = await run_cli(orderflow_env(dsn, tmp_path), str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    negative = await run_cli(orderflow_env(dsn, tmp_path), "--workers", "-1", str(dump))
    assert negative.returncode == 2 and "--workers must be 0 or more" in negative.stderr


def gauge(metrics: str, name: str, job: str) -> float | None:
    """The value of ``orderflow_progress_<name>{job=...}`` in a Prometheus exposition."""
    pattern = rf'^orderflow_progress_{name}\{{job="{re.escape(job)}"[^}}]*\}} (\S+)$'
    found = re.search(pattern, metrics, re.M)
    return float(found.group(1)) if found else None


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_progress_on_a_terminal_and_as_metrics(pool: asyncpg.Pool, tmp_path: Path) -> None:
    setup_metrics("test")
    logs = sim_logs("v2", seed=32)
    rows = [d.camel_row(f) for f in d.fills_of(logs)]
    rows.insert(3, {**rows[0], "makerAmountFilled": "12.5"})  # one dead letter
    path = d.write_jsonl(tmp_path / "fills.jsonl", rows)
    size = path.stat().st_size
    out = Terminal()
    progress = Progress("import fills.jsonl", unit="bytes", total=None, count_unit="rows",
                        stream=out, min_interval=0.0)  # fmt: skip
    report = await import_file(pool, path, chain_id=137, batch_size=5, progress=progress)
    assert report.dead_letters == 1
    lines = out.getvalue().split("\r\x1b[2K")[1:]
    assert lines[0].startswith("import fills.jsonl: 5 rows ") and " bytes (" in lines[0]
    assert "rows/s ETA " in lines[0] and lines[0].endswith(", 1 dead letters")
    final = lines[-1]
    assert final.startswith(f"import fills.jsonl: {report.rows:,} rows {size:,} / {size:,} bytes")
    assert "(100.0 %) in 0:00:" in final and final.endswith(" rows/s, 1 dead letters\n")
    metrics = generate_latest().decode()
    assert 'orderflow_import_rows_total{kind="fills"' in metrics
    assert 'orderflow_import_dead_letters_total{kind="fills"' in metrics
    job = "import fills.jsonl"
    assert gauge(metrics, "done", job) == gauge(metrics, "total", job) == size
    assert gauge(metrics, "eta_seconds", job) == 0.0
    assert gauge(metrics, "rate", job) is not None
    assert gauge(metrics, "count_rate", job) is not None


async def test_import_makes_its_own_progress_in_parquet_rows(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    setup_metrics("test")
    blocks = d.blocks_of(sim_logs("v1", seed=33))
    path = d.write_parquet(tmp_path / "own.parquet", blocks)
    report = await import_file(pool, path, chain_id=137, batch_size=4)
    assert report.rows == len(blocks) > 4
    metrics = generate_latest().decode()
    job = "import own.parquet"
    assert gauge(metrics, "done", job) == gauge(metrics, "total", job) == len(blocks)
