"""benchmarks/wash_incremental.py end to end at a tiny size (figures are printed, not asserted;
the incremental rows must be WASH's, which the benchmark asserts itself)."""

from __future__ import annotations

from tests.benchmark_module import run_benchmark


def test_wash_incremental_benchmark_runs(pg_server_dsn: str) -> None:
    out = run_benchmark(
        "wash_incremental", "--fills", "3k", "--rounds", "2", "--ingest-segment", "500",
        "--active-markets", "6", "--fills-per-market", "300", "--trace", "--dsn", pg_server_dsn,
    )  # fmt: skip
    assert out.count("identical: True") == 2, out
    for needle in ("µs/fill", "build:", "dirty buckets", "total backend CPU", "load"):
        assert needle in out, (needle, out)
    assert "then 0 new fills" not in out, out
