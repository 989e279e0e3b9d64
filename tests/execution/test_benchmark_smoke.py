"""The latency benchmark runs end to end at a tiny size (figures are printed, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_signal_latency_benchmark_smoke(pg_server_dsn: str) -> None:
    spec = importlib.util.spec_from_file_location(
        "signal_latency", ROOT / "benchmarks" / "signal_latency.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures = module.main(
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
