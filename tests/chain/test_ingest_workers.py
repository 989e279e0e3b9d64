"""File import through decoding processes: the same rows as one process; exactly once across
a kill -9 of ``orderflow listen --from-file``; a dead decoding process is an error, not a loss."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from orderflow.chain import decode_workers
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.contracts import MAINNET, TOPIC_ORDER_FILLED_V1, TOPIC_ORDER_FILLED_V2
from orderflow.chain.decode_workers import Chunk, Decoders, DecodeWorkerError
from orderflow.chain.ingest import (
    IngestReport,
    _pipeline,
    ingest_file,
    start_decoders,
)
from orderflow.chain.ingest_chunks import from_decoders
from orderflow.sim import SimConfig, simulate
from orderflow.sim.emit import emit
from tests.cli_env import orderflow_env
from tests.history.compare import rows

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"
TABLES = ("orderflow_trades", "orderflow_matches")


def sim_logs(exchange: str, seed: int, days: float = 1.0) -> list[dict[str, Any]]:
    cfg = SimConfig(seed=seed, markets=4, wallets=8, days=days, exchange=exchange)
    return emit(simulate(cfg)).logs


def mixed_file(path: Path) -> Path:
    """Real-shaped logs of every generation plus what a file can hold besides log objects."""
    logs = [*sim_logs("v1", 3), *sim_logs("v2", 4)]
    lines = [json.dumps(log) for log in logs]
    filled = (TOPIC_ORDER_FILLED_V1, TOPIC_ORDER_FILLED_V2)
    fills = [log for log in logs if log["topics"][0] in filled]
    untimed = dict(fills[5])
    untimed.pop("blockTimestamp", None)
    big = dict(logs[7], logIndex=2**70)  # orjson and json read this integer differently
    extra = [
        "this is not json {",
        "",
        "  ",
        "[1, 2]",
        "\ufeff" + lines[1],  # a BOM starting a middle line (an appended file)
        json.dumps(untimed),  # no time and no known block: a dead letter
        json.dumps(big),
        '{"a": NaN}',
    ]
    for i, text in enumerate(extra):
        lines.insert(len(lines) * (i + 1) // (len(extra) + 1), text)
    body = "\n".join(lines[:40]) + "\r\n" + "\r\n".join(lines[40:80]) + "\n" + "\n".join(lines[80:])
    path.write_bytes(body.encode() + b"\n\xff\xfe broken utf-8\n")
    return path


async def everything(pool: asyncpg.Pool) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {t: await rows(pool, t) for t in TABLES}
    for table, order in (
        ("orderflow_tokens", "token_id"),
        ("orderflow_conditions", "condition_id"),
        ("orderflow_market_outcomes", "market_id"),
        ("orderflow_dead_letters", "raw_sha256"),
    ):
        found = await pool.fetch(f"SELECT * FROM {table} ORDER BY {order}")
        skip = {
            "id",
            "first_seen",
            "first_seen_at",
            "last_seen_at",
            "created_at",
            "updated_at",
            "inserted_at",
        }
        out[table] = [{k: v for k, v in dict(r).items() if k not in skip} for r in found]
    return out


def _counts(report: IngestReport) -> tuple[int, ...]:
    s = report.stored
    return (
        report.lines,
        report.logs,
        report.malformed_lines,
        report.batches,
        s.trades,
        s.matches,
        s.tokens,
        s.conditions,
        s.outcomes,
        s.dead_letters,
    )


async def test_workers_store_row_for_row_what_one_process_stores(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path = mixed_file(tmp_path / "mixed.jsonl")
    one = await ingest_file(other_pool, path, chain_id=137, batch_size=50, workers=0)
    many = await ingest_file(pool, path, chain_id=137, batch_size=50, workers=2)
    assert _counts(many) == _counts(one)
    assert one.stored.trades > 100 and one.malformed_lines == 3
    assert one.stored.dead_letters == 3 + 3  # the lines; the untimed, big-integer and NaN logs
    assert many.decode_cpu_secs > 0
    assert await everything(pool) == await everything(other_pool)
    reasons = [r["reason"] for r in (await everything(pool))["orderflow_dead_letters"]]
    assert any("line" in r and "not JSON" in r for r in reasons)
    assert any("no blockTimestamp" in r for r in reasons)


async def test_sample_through_workers(pool: asyncpg.Pool) -> None:
    report = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=4, workers=1)
    assert (report.lines, report.batches, report.stored.trades, report.stored.matches) == (
        17,
        4,
        9,
        3,
    )
    again = await ingest_file(pool, SAMPLE, chain_id=137, workers=1)
    assert (again.stored.trades, again.stored.duplicate_trades) == (0, 9)


async def test_decoders_started_by_the_caller_before_the_first_batch(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """``listen --from-file`` starts its decoding processes while it connects: they run before
    any batch is submitted, and ingest_file leaves processes it was given to their owner."""
    decoders = await start_decoders(SAMPLE, 2, chain_id=137)
    try:
        assert len(multiprocessing.active_children()) == 2  # spawned, no batch submitted
        report = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=4, decoders=decoders)
        again = await ingest_file(pool, SAMPLE, chain_id=137, decoders=decoders)  # still open
    finally:
        await asyncio.to_thread(decoders.close)
    assert (report.stored.trades, again.stored.duplicate_trades) == (9, 9)


async def test_empty_and_blank_files_import_nothing(pool: asyncpg.Pool, tmp_path: Path) -> None:
    for content in (b"", b"\n \r\n\n"):
        path = tmp_path / "empty.jsonl"
        path.write_bytes(content)
        report = await ingest_file(pool, path, chain_id=137, workers=2)
        assert (report.lines, report.batches, report.stored.dead_letters) == (0, 0, 0)


# --- a decoding process that dies ---------------------------------------------------------------


def _die_after_the_first_batch(data: bytes, first_line: int) -> Chunk:
    if first_line > 1:  # every batch but the first
        os._exit(3)
    return decode_workers._decode_in_child(data, first_line)


class _Dying(Decoders):
    task = staticmethod(_die_after_the_first_batch)


async def test_a_dead_decoding_process_stops_the_import_with_a_clear_error(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(json.dumps(log) + "\n" for log in sim_logs("v2", 5)))
    decoders = _Dying(2, path.name, 137, MAINNET)
    try:
        with pytest.raises(DecodeWorkerError, match=r"died while decoding lines \d+-\d+ of logs"):
            await _pipeline(
                pool,
                from_decoders(path, 60, decoders),
                IngestReport(path=str(path)),
                chain_id=137,
                stream="file:logs",
                traceparent=None,
                addresses=MAINNET,
                decoders=decoders,
            )
    finally:
        decoders.close()
    # What was stored is whole batches up to the checkpoint, nothing beyond it.
    async with pool.acquire() as conn:
        checkpoint = await get_checkpoint(conn, 137, "file:logs")
    top = await pool.fetchval("SELECT max(block_number) FROM orderflow_trades")
    assert (checkpoint is None) == (top is None)
    if checkpoint is not None:
        assert top <= checkpoint.block_number
    # A rerun completes the import: exactly the rows of an uninterrupted one.
    await ingest_file(pool, path, chain_id=137, batch_size=60, workers=2)
    await ingest_file(other_pool, path, chain_id=137, batch_size=60, workers=0)
    assert await everything(pool) == await everything(other_pool)


# --- kill -9 of the CLI mid-file ------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    """The child processes of ``pid``'s threads now; a thread that ends while they are read
    (its ``/proc`` entry gone between the listing and the read) has none left to count."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found.update(int(x) for x in text)
    return found


async def killed_then_rerun(dsn: str, pool: asyncpg.Pool, tmp_path: Path, path: Path) -> int:
    """``orderflow listen --from-file PATH --batch-size 20 --workers 2`` killed with SIGKILL once
    it has stored a trade, then run again to its end: the trades stored before the rerun (its
    decoding processes checked gone)."""
    env = orderflow_env(dsn, tmp_path)
    cmd = [sys.executable, "-m", "orderflow", "listen", "--from-file", str(path)]
    cmd += ["--batch-size", "20", "--workers", "2"]
    out = (tmp_path / "killed.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=out)
    workers: set[int] = set()
    try:
        for _ in range(600):
            await asyncio.sleep(0.05)
            if proc.poll() is not None:
                break
            workers |= _children(proc.pid)
            if await pool.fetchval("SELECT count(*) FROM orderflow_trades") > 0:
                break
        assert proc.poll() is None, "the import finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        out.close()
    partial = int(await pool.fetchval("SELECT count(*) FROM orderflow_trades"))
    # The decoding processes do not outlive their parent.
    for _ in range(200):
        if not any(Path(f"/proc/{pid}").exists() for pid in workers):
            break
        await asyncio.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    done = await asyncio.to_thread(
        subprocess.run, cmd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return partial


async def test_kill_9_mid_file_then_rerun_stores_each_fill_once(
    dsn: str, pool: asyncpg.Pool, other_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    path = tmp_path / "logs.jsonl"
    logs = [log for seed in (11, 12, 13) for log in sim_logs("v2", seed, days=3.0)]
    path.write_text("".join(json.dumps(log) + "\n" for log in logs))
    partial = await killed_then_rerun(dsn, pool, tmp_path, path)
    await ingest_file(other_pool, path, chain_id=137, batch_size=20, workers=0)
    stored, reference = await everything(pool), await everything(other_pool)
    assert 0 < partial < len(reference["orderflow_trades"])
    assert stored == reference
