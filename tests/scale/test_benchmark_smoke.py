"""The scaling measurements run end to end at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

from tests.benchmark_module import run_benchmark


def test_schema_options_measure_every_option(pg_server_dsn: str) -> None:
    options = "current,no_stats,pk_only,part,part_bare,bytea,ids,ids_part,ids_part_bare"
    out = run_benchmark("schema_options", "--fills", "1500", "--batch", "500", "--only", options,
                        "--dsn", pg_server_dsn)  # fmt: skip
    for option in options.split(","):
        assert f"\n{option} " in out, out
    assert out.count("us/row") >= 9
    assert "index build afterwards" in out


def test_ingest_design_stores_every_fill_once(pg_server_dsn: str) -> None:
    out = run_benchmark("ingest_design", "--logs", "1200", "--batch", "300", "--workers", "1",
                        "--dsn", pg_server_dsn)  # fmt: skip
    # The prototype and the shipped path store the same fills from the same file.
    head = out.splitlines()[0]
    fills = int(head.split("(")[1].split(" fills")[0].replace(",", ""))
    assert fills > 0
    assert "design  :" in out and "shipped :" in out and "speed-up" in out
    assert f"stored {fills:,} / {fills:,}" in out, out


def test_pruning_measures_every_reader(pg_server_dsn: str) -> None:
    out = run_benchmark("pruning", "--partitions", "3", "--fills", "200", "--runs", "5",
               "--dsn", pg_server_dsn)  # fmt: skip
    assert out.count(" pages ") == 6 * 2, out
    assert "executor: new trades" in out and "--as-of: every wallet" in out
    assert "decision: quotes" in out
