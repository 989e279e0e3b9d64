"""The ingest benchmark runs end to end at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

from types import ModuleType

import pytest

from orderflow.chain.decode import decode_batch
from tests.benchmark_module import load_benchmark


def _load() -> ModuleType:
    return load_benchmark("ingest")


def test_generated_logs_all_decode() -> None:
    logs = _load().generate(3000, seed=3)
    assert len(logs) == 3000
    batch = decode_batch(logs, 137)
    assert not batch.dead_letters
    assert batch.fills and batch.matches and batch.conditions and batch.resolutions
    assert {f.exchange_version for f in batch.fills} == {"V1", "V2", "V3"}


def test_benchmark_smoke(pg_server_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _load().main(
        ["--logs", "400", "--baseline-logs", "20", "--batch-size", "150", "--dsn", pg_server_dsn]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "end to end    ours" in out and "ratio ours/baseline" in out
    assert "0 dead letters" in out


def test_backfill_benchmark_smoke(pg_server_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The backfill benchmark at a tiny size: its stand-in node refuses big replies (the range
    shrinks), and the backfill stores what the file import stores."""
    code = load_benchmark("backfill").main(
        ["--logs", "3000", "--max-logs", "400", "--dsn", pg_server_dsn]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "backfill" in out and "range by range" in out and "file import" in out
    refused = int(out.split(" refused: over")[0].rsplit("(", 1)[1])
    assert refused > 0
