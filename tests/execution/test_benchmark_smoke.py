"""The latency benchmark runs end to end at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

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
