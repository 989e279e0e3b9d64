"""The fold-growth benchmark runs end to end at a tiny size (figures printed, never asserted):
in particular it still re-creates migrations 011/014's functions for its ``shipped`` variant."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.benchmark_module import load_benchmark


def _load() -> ModuleType:
    return load_benchmark("fold_growth")


def test_shipped_functions_are_found_in_the_old_migrations() -> None:
    sql = _load().shipped_sql()
    assert sql.count("CREATE OR REPLACE FUNCTION") == 3 and "ORDER BY" not in sql


def test_fold_growth_smoke(pg_server_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = _load().main(
        ["--sizes", "0,3k", "--logs", "2000", "--live-logs", "300", "--dsn", pg_server_dsn]
    )
    out = capsys.readouterr().out
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("| 3,000 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["shipped", "tree"]
    assert "blocks read / hit per fill: position_sums " in out
