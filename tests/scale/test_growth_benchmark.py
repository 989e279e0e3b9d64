"""benchmarks/growth.py end to end at a tiny size (figures are printed, never asserted), and its
generator: whole blocks, fills counted as the store counts them, markets resolving over time."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from orderflow.chain import contracts as c
from tests.benchmark_module import load_benchmark, run_benchmark


def _load() -> ModuleType:
    return load_benchmark("growth")


def test_growth_benchmark_reports_every_checkpoint(pg_server_dsn: str) -> None:
    out = run_benchmark(
        "growth", "--points", "3k,8k", "--active-markets", "6", "--fills-per-market", "300",
        "--batch-size", "500", "--dsn", pg_server_dsn,
    )  # fmt: skip
    heads = [line for line in out.splitlines() if line.startswith("== ")]
    assert len(heads) == 2, out
    stored = [int(h.split()[1].replace(",", "")) for h in heads]
    assert 3_000 <= stored[0] < 3_100 and 8_000 <= stored[1] < 8_100, heads
    for needle in ("us/fill", "MB per M", "full reputation run:", "bare GROUP BY", "load average"):
        assert out.count(needle) >= 2, (needle, out)
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == 2, out
    # the markets resolved in between gave the run positions and scored wallets
    assert " 0 markets resolved" not in heads[1], heads
    assert " 0 wallets, " not in out and " 0 positions" not in out, out


def test_growth_benchmark_ingest_only_checkpoints(pg_server_dsn: str) -> None:
    out = run_benchmark(
        "growth", "--points", "1k,2k", "--score-at", "2k", "--active-markets", "3",
        "--fills-per-market", "300", "--dsn", pg_server_dsn,
    )  # fmt: skip
    assert out.count("== ") == 2 and out.count("full reputation run:") == 1, out
    assert "not scored" in out, out


def test_chain_grows_in_whole_blocks_with_markets_resolving() -> None:
    _load()  # puts benchmarks/ on sys.path
    growth = importlib.import_module("growth_chain")
    chain = growth.GrowingChain(seed=3, fills_per_wallet=15, fills_per_market=200, active=4)
    logs = list(chain.until(2_000))
    fills = [log for log in logs if log["topics"][0] in growth.FILL_TOPICS]
    assert len(fills) == chain.fills >= 2_000 and chain.logs == len(logs)
    blocks = [int(log["blockNumber"], 16) for log in logs]
    assert blocks == sorted(blocks)
    more = list(chain.until(2_500))  # resumes where it stopped, in the next block
    assert int(more[0]["blockNumber"], 16) == blocks[-1] + 1
    topics = [log["topics"][0] for log in logs + more]
    prepared = topics.count(c.TOPIC_CONDITION_PREPARATION)
    resolved = topics.count(c.TOPIC_CONDITION_RESOLUTION)
    assert prepared == chain.markets_prepared and resolved == chain.markets_resolved
    assert resolved == prepared - 4 and resolved >= 2_500 // 200 - 1
    # the same seed, the same chain
    again = growth.GrowingChain(seed=3, fills_per_wallet=15, fills_per_market=200, active=4)
    assert list(again.until(2_000)) == logs


def test_parse_count() -> None:
    assert [_load().parse_count(x) for x in ("300k", "1M", "1.5M", "100M", "12345")] == [
        300_000, 1_000_000, 1_500_000, 100_000_000, 12_345,
    ]  # fmt: skip
