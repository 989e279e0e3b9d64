"""The latency benchmark runs end to end at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

import pytest

from tests.benchmark_module import load_benchmark


def test_signal_latency_benchmark_smoke(pg_server_dsn: str) -> None:
    figures = load_benchmark("signal_latency").main(
        [
            "--trades",
            "5",
            "--interval-ms",
            "10",
            "--baseline-poll-secs",
            "0.3",
            "--dsn",
            pg_server_dsn,
        ]
    )
    assert figures["notify"]["n"] == 5 and figures["poll"]["n"] == 5


def test_paper_matching_benchmark_smoke(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    load_benchmark("paper_matching").main(
        [
            "--orders",
            "3",
            "--tokens",
            "2",
            "--fills-per-token",
            "4",
            "--history",
            "2",
            "--passes",
            "1",
            "--dsn",
            pg_server_dsn,
        ]
    )
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| 3 |")]
    assert len(rows) == 1 and rows[0].count("|") == 7
