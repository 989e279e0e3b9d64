"""The per-index ingest benchmark runs at a tiny size in both modes (figures are not asserted)."""

from __future__ import annotations

from types import ModuleType

import pytest

from orderflow.chain import store_sql
from tests.benchmark_module import load_benchmark


def _load() -> ModuleType:
    return load_benchmark("ingest_indexes")


@pytest.mark.parametrize("mode", ["batch", "import"])
def test_ingest_indexes_smoke(
    pg_server_dsn: str, mode: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--logs", "3000", "--batches", "1", "--runs", "1", "--mode", mode]
    code = _load().main(
        [
            *args,
            "--variants",
            "072,indexed while importing,before 016,-market,-wallet_time",
            "--dsn",
            pg_server_dsn,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for variant in ("072", "indexed while importing", "before 016", "-market", "-wallet_time"):
        assert f"| {variant} | " in out
    # the store's statements are its own again after the "before 016" variants
    assert store_sql.CHAIN_FILTER in store_sql.LINK_MATCHES


def test_ingest_indexes_detail_smoke(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--detail``: every statement apart, named by its constant."""
    args = ["--logs", "3000", "--runs", "1", "--mode", "import", "--variants", "072"]
    code = _load().main([*args, "--detail", "--dsn", pg_server_dsn])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("store_sql.INSERT_TRADES", "writer_txs.RECORD_BOTH", "pending_sums.FOLD_CLAIMED"):
        assert f"| {name} | " in out, out
