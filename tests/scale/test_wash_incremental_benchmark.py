"""benchmarks/wash_incremental.py end to end at a tiny size (figures are printed, not asserted;
the incremental rows must be WASH's, which the benchmark asserts itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wash_incremental_benchmark_runs(pg_server_dsn: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "wash_incremental.py"), "--fills", "3k",
         "--rounds", "2", "--ingest-segment", "500", "--active-markets", "6",
         "--fills-per-market", "300", "--trace", "--dsn", pg_server_dsn],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("identical: True") == 2, out
    for needle in ("µs/fill", "build:", "dirty buckets", "total backend CPU", "load"):
        assert needle in out, (needle, out)
    assert "then 0 new fills" not in out, out
