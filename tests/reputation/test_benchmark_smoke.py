"""benchmarks/reputation.py runs end to end at a tiny size (figures are printed, not asserted)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from orderflow.sim import ScoredWallet, SimConfig, score_quality, simulate, truth_of
from orderflow.sim.population import Population
from tests.benchmark_module import load_benchmark, run_benchmark


def test_benchmark_runs_at_tiny_size(pg_server_dsn: str) -> None:
    out = run_benchmark(
        "reputation", "--wallets", "300", "--trades", "6000", "--baseline-wallets", "10",
        "--chunk", "2500", "--dsn", pg_server_dsn,
    )  # fmt: skip
    assert "full recompute (set-based): 300 wallets" in out
    assert "seed per-wallet loop: 10 wallets" in out
    assert "ratio set-based / per-wallet" in out
    assert "bare GROUP BY wallet over the same trades" in out
    assert "incremental: 240 new trades," in out
    assert "incremental after an hour (24 new trades by 6 wallets in " in out
    assert "open markets, 1 of them resolving): " in out
    assert "as-of recompute (scans the trades): 300 wallets" in out
    assert "MB per million fills" in out
    # the 120 s target is the at 1 M wallets: a tiny run does not claim to meet it
    assert "not judged at this size" in out and "meets" not in out
    assert "for the hourly run applies at 1,000,000 wallets: not judged" in out


def test_the_target_is_judged_only_at_its_size() -> None:
    bench = load_benchmark("reputation")
    assert "not judged" in bench.target_line(100_000, 2_000_000, 12.1)
    assert bench.target_line(1_000_000, 20_000_000, 119.0).endswith("meets (119.0 s)")
    assert "MISSES (161.4 s)" in bench.target_line(1_000_000, 20_000_000, 161.4)
    assert "not judged" in bench.hourly_target_line(100_000, 1.2)
    assert bench.hourly_target_line(1_000_000, 4.9).endswith("meets (4.9 s)")
    assert "MISSES (32.2 s)" in bench.hourly_target_line(1_000_000, 32.2)


async def test_the_sampled_addresses_are_the_generated_ones(pool: asyncpg.Pool) -> None:
    """The per-wallet loop's addresses (computed in Python) are the wallets the SQL generator
    made: a mismatch would time wallets with no fills."""
    bench = load_benchmark("reputation_data")
    for w in (0, 7, 123_456, 999_999):
        made = await pool.fetchval(f"SELECT {bench.WALLET_SQL} FROM (SELECT $1::int8 AS w) x", w)
        assert made == bench.wallet_address(w)
        assert len(made) == 42


def test_score_quality_benchmark_runs_on_a_small_world(pg_server_dsn: str) -> None:
    out = run_benchmark(
        "score_quality", "--seeds", "2", "--days", "7", "--wallets", "60", "--dsn", pg_server_dsn
    )
    assert "score quality: 2 seeds from 1, 7 days, 60 wallets, 36 markets each" in out
    assert "over 2 seeds (mean ± sd):" in out
    assert "realised ROI (baseline)" in out and "top 15 by score: truly skilled" in out


def test_prior_tail_benchmark_prints_both_priors() -> None:
    out = run_benchmark("prior_tail", "--draws", "1", timeout=120)
    assert "one normal: top (skilled)" in out and "with tail" in out
    assert len(out.splitlines()) == 12 and out.count("t4 noise") == 2
    assert out.count("+ long shots") == 2 and "bulk tau" in out


def test_prior_fit_benchmark_prints_the_fit_against_plain_em() -> None:
    out = run_benchmark("prior_fit", "--wallets", "20000", "--seeds", "1", timeout=120)
    rows = [line for line in out.splitlines() if line.startswith("| 20,000 |")]
    assert len(rows) == 2, out  # no skill and 3 % skilled
    assert all(row.count("|") == 12 for row in rows)


def test_tail_null_benchmark_prints_the_gains() -> None:
    out = run_benchmark("tail_null", "--draws", "5", "3", "0", "0", timeout=120)
    assert "| wallets | noise | draws | gain q90 |" in out and "> 1.5 ln k" in out
    assert out.count("| 155 |") == 2 and out.count("| 2,000 |") == 2 and "20,000" not in out


def test_prior_recall_benchmark_scores_a_dump_under_each_prior(
    pg_server_dsn: str, tmp_path: Path
) -> None:
    """benchmarks/prior_populations.py dumps a small world; prior_recall.py scores it (and it
    appended to itself) under every variant, and draws a null population."""
    dump = tmp_path / "default-1.npz"
    run_benchmark(
        "prior_populations", "dump", "--variant", "default", "--days", "4", "--markets", "8",
        "--wallets", "40", "--dsn", pg_server_dsn, "--out", str(dump),
    )  # fmt: skip
    variants = ["main", "gain>0", "gain>0,tailsd=ci", "gain>0,tailsd=0.03", "averaged",
                "averaged:0", "oracle", "kappa=0.03"]  # fmt: skip
    out = run_benchmark(
        "prior_recall", str(dump), f"{dump}+{dump}", "--variants", *variants,
        "--null", "60:2", timeout=120,
    )  # fmt: skip
    lines = out.splitlines()
    assert sum(line.startswith("null 60 wallets") for line in lines) == 2
    assert sum(line.startswith("default-1 ") for line in lines) == len(variants)
    assert sum(line.startswith("default-1+default-1 ") for line in lines) == len(variants)
    assert all("skilled in top" in line and "AUC" in line for line in lines[2:])


async def test_the_benchmark_hour_trades_open_markets_only(dsn: str, pool: asyncpg.Pool) -> None:
    """The hour of new trades the reputation benchmark times goes into open markets only, as on
    mainnet (the CLOB stops trading a market when it resolves), and its resolutions come after
    every fill: no fill lands after its market's resolution."""
    data = load_benchmark("reputation_data")
    await data.build(dsn, 300, 6000, 30, 2500)
    post_resolution = """
        SELECT count(*) FROM orderflow_trades t
          JOIN orderflow_market_outcomes o USING (market_id)
         WHERE t.timestamp >= o.resolved_at"""
    async with pool.acquire() as conn:
        still_open = await data.open_markets(conn, 30)
        assert 0 < len(still_open) < 30
        assert await conn.fetchval(post_resolution) == 0
        # numbers 7,200 on: stamped from the present back (a trade i is i mod 3,600 s old)
        await conn.execute(data.RECENT_TRADES, 7200, 8199, 300, len(still_open), still_open)
        await conn.execute(data.RESOLVE_NOW, still_open[:2])
        assert await conn.fetchval(post_resolution) == 0
        # the resolutions come after every fill stored before them, the newest included
        assert await conn.fetchval(
            "SELECT (SELECT min(resolved_at) FROM orderflow_market_outcomes"
            "         WHERE resolved_at > now() - interval '1 day')"
            "       > (SELECT max(timestamp) FROM orderflow_trades)"
        )
        traded = await conn.fetchval(
            "SELECT count(DISTINCT market_id) FROM orderflow_trades WHERE block_number >= $1",
            40_000_000 + 7200 // 50,
        )
        assert traded == len(still_open)
        assert await data.open_markets(conn, 30) == still_open[2:]


def test_score_variants_row_has_every_trap_column() -> None:
    """benchmarks/score_variants.py's markdown row (no database: a simulated truth scored by
    hand): as many cells as its header, a WHALE/SMART count for each of the ten kinds (copiers,
    late buyers, lucky whales and sybils among them) and a top-15 count for each of the eleven."""
    bench = load_benchmark("score_variants")
    pop = Population(shares={"copier": 0.1, "late_buyer": 0.1}, sybil_groups=(1, 2))
    truth = truth_of(simulate(SimConfig.small(seed=9, days=1.0, population=pop)))
    copier = next(w for w in truth.wallets if w.style == "copier")
    sybil = next(w for w in truth.wallets if w.sybil_group is not None)
    scores = [ScoredWallet(copier.address, 2.0, "SMART"), ScoredWallet(sybil.address, 1.0, "WHALE")]
    world = bench.World(9, score_quality(scores, truth), bench.top_listed([copier, sybil]))
    header, rule = bench.HEADER.splitlines()
    line = bench.row("mixed", 1.0, [world])
    assert line.count("|") == header.count("|") == rule.count("|") == 11
    cells = [c.strip() for c in line.split("|")[1:-1]]
    kinds = header.split("|")[8].strip().removesuffix(" in WHALE/SMART").split(" / ")
    top = dict(zip(kinds, cells[7].split(" / "), strict=True))
    assert len(kinds) == 10 and top["copiers"] == top["sybils"] == "1", (kinds, cells[7])
    assert top["makers"] == top["late buyers"] == top["lucky whales"] == "0"
    listed = header.split("|")[10].strip().split(": ")[1].split(" / ")
    shown = dict(zip(listed, cells[9].split(" / "), strict=True))
    assert len(listed) == 11 and shown["copier"] == shown["sybil"] == "1.0", shown
