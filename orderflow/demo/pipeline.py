"""The whole system in one call: simulate, ingest, score, replay the executor, judge the score.

Every stage is the real one: the simulator's logs go through the listener's file path
(:func:`orderflow.chain.ingest.ingest_file`: decode + store), reputation runs
(:func:`orderflow.reputation.run_reputation`, persisted, so ``orderflow wallet`` works on the
demo database), and the executor's decision code trades on paper in the walk-forward replay of
:mod:`orderflow.backtest` — scores as of each step, resolutions once they happened — because the
stream is history: the live executor would rightly expire every signal as stale against the wall
clock. Only the report reads the hidden truth.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from orderflow.backtest import BacktestOptions, BacktestReport, run_backtest
from orderflow.backtest.forward import ForwardTest, forward_test, median_resolution
from orderflow.backtest.quality import QualityOverTime, StepQuality
from orderflow.backtest.scoring import reputation_scorer
from orderflow.backtest.verdict import FollowerVerdict, MarketResult, by_market, judge
from orderflow.chain.ingest import IngestReport, ingest_file
from orderflow.db import create_pool
from orderflow.demo.store import (
    DEMO_DATABASE,
    FlaggedWallet,
    flagged_wallets,
    fresh_database,
    save_run,
)
from orderflow.errors import OrderflowError
from orderflow.migrate import migrate
from orderflow.reputation import ReputationSettings, WalletScore, compute_scores, run_reputation
from orderflow.reputation.prior import Prior
from orderflow.sim import (
    ScoredWallet,
    ScoreQuality,
    SimConfig,
    Truth,
    score_quality,
    simulate,
    truth_of,
    write_truth,
)
from orderflow.sim.emit import emit, write_logs
from orderflow.strategy.settings import StrategySettings

DEMO_STRATEGY = "demo"


# The simulated markets trade a few times a day per token (median ~1.5 h between taker orders,
# docs/backtest.md): the book is revealed over hours, not minutes, so the demo's orders rest 6 h
# (and its backtest, whose book window is the strategy's order life, waits as long).
DEMO_ORDER_TTL_SECS = 6 * 3600


def demo_strategy(sim: SimConfig, **overrides: object) -> StrategySettings:
    """Paper strategy for the demo: both signal types, the simulated fee, room for 20 positions,
    orders living 6 h (``DEMO_ORDER_TTL_SECS``)."""
    values: dict[str, object] = {
        "enable_degen_fading": True,
        "taker_fee_rate": sim.taker_fee_bps / 10_000 if sim.exchange == "v2" else 0.0,
        "max_open_positions": 20,
        "order_ttl_secs": DEMO_ORDER_TTL_SECS,
    }
    values.update(overrides)
    return StrategySettings.model_validate(values)


@dataclass
class DemoResult:
    sim: SimConfig
    logs_path: Path
    truth_path: Path
    database_dsn: str
    logs: int
    ingest: IngestReport
    truth: Truth
    scores: dict[str, WalletScore]
    quality: ScoreQuality
    backtest: BacktestReport
    strategy: StrategySettings
    signals_stored: int
    forward: ForwardTest | None = None
    flagged: list[FlaggedWallet] = field(default_factory=list)
    quality_over_time: list[StepQuality] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # The verdict pooled over every seed run (this one and the extra ones), markets kept apart.
    seeds: list[int] = field(default_factory=list)
    seeds_skipped: list[int] = field(default_factory=list)  # not run: the time budget was spent
    pooled: list[FollowerVerdict] = field(default_factory=list)
    # the population prior the stored rows were shrunk toward (the reputation run's), and the
    # floor of its spread (ReputationSettings.prior_sd_floor)
    prior: Prior | None = None
    prior_floor: float = field(default_factory=lambda: ReputationSettings().prior_sd_floor)


def markets_of(report: BacktestReport, label: str) -> list[tuple[str, dict[str, MarketResult]]]:
    return [
        (run.follower.name, by_market(run.book.signals, label, report.events, report.days))
        for run in report.result.runs
    ]


async def replay_seed(
    server_dsn: str,
    sim: SimConfig,
    out_dir: Path,
    strategy: StrategySettings,
    options: BacktestOptions,
    reputation: ReputationSettings | None,
    database: str,
) -> BacktestReport:
    """Another seed's history through the same pipeline, for the pooled verdict only."""
    dsn = await fresh_database(server_dsn, database)
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        emitted = emit(simulate(sim))
        logs_path = out_dir / f"logs-seed{sim.seed}.jsonl"
        write_logs(emitted.logs, logs_path)
        await ingest_file(pool, logs_path, chain_id=sim.chain_id)
        logs_path.unlink()
        async with pool.acquire() as conn:
            report = await run_backtest(conn, strategy, options, reputation_scorer(reputation))
    finally:
        await pool.close()
    if report is None:
        raise OrderflowError(f"seed {sim.seed} produced no trades: nothing to replay")
    return report


async def run_demo(
    server_dsn: str,
    sim: SimConfig,
    out_dir: Path,
    strategy: StrategySettings,
    *,
    step_secs: float = 86_400.0,
    reputation: ReputationSettings | None = None,
    database: str = DEMO_DATABASE,
    extra_seeds: int = 0,
    execution: dict[str, object] | None = None,
    seed_budget_secs: float = 75.0,
) -> DemoResult:
    """Run the pipeline into a fresh ``database`` on ``server_dsn``'s server."""
    timings: dict[str, float] = {}
    clock = started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    dsn = await fresh_database(server_dsn, database)
    pool = await create_pool(dsn, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        lap("database")
        world = simulate(sim)
        emitted = emit(world)
        logs_path, truth_path = out_dir / "logs.jsonl", out_dir / "truth.json"
        write_logs(emitted.logs, logs_path)
        truth = truth_of(world)
        write_truth(truth, truth_path)
        lap("simulate")
        ingest = await ingest_file(pool, logs_path, chain_id=sim.chain_id)
        lap("ingest")
        end = sim.start_time + timedelta(days=sim.days)
        # the stored rows the report lists: a run at the present (an --as-of run writes only
        # history); the world stores nothing after its end, so it scores what compute_scores
        # does at the end
        reputation_run = await run_reputation(pool, settings=reputation)
        scores = await compute_scores(pool, as_of=end, settings=reputation)
        lap("reputation")
        async with pool.acquire() as conn:
            flagged = await flagged_wallets(conn)
        options = BacktestOptions.model_validate(
            {"step_secs": step_secs, "seed": sim.seed, **(execution or {})}
        )
        async with pool.acquire() as conn:
            over_time = QualityOverTime(truth)
            report = await run_backtest(
                conn, strategy, options, reputation_scorer(reputation), on_scores=over_time
            )
            if report is None:
                raise OrderflowError("the simulation produced no trades: nothing to replay")
            stored = await save_run(
                conn,
                DEMO_STRATEGY,
                strategy,
                report.result.runs[0],
                sim.chain_id,
                report.result.last_prices,
            )
        lap("backtest")
        async with pool.acquire() as conn:
            # Scores as of the date half the markets had resolved, against the edge realised
            # after it (the middle of the history if nothing resolved).
            as_of = await median_resolution(conn, sim.start_time, end) or (
                sim.start_time + timedelta(days=sim.days / 2)
            )
            forward = await forward_test(
                conn, reputation_scorer(reputation), as_of=as_of, end=end, seed=sim.seed
            )
        lap("forward test")
    finally:
        await pool.close()
    seeds = [sim.seed]
    pooled = markets_of(report, f"{sim.seed}:")
    skipped: list[int] = []
    per_seed = time.perf_counter() - started  # the first seed's pipeline: a seed's cost here
    for k in range(1, extra_seeds + 1):
        other = sim.model_copy(update={"seed": sim.seed + k})
        if time.perf_counter() - started + per_seed > seed_budget_secs:
            skipped.append(other.seed)  # it would not finish in time: say so, pool fewer
            continue
        seed_started = time.perf_counter()
        extra = await replay_seed(
            server_dsn, other, out_dir, strategy, options, reputation, f"{database}_extra"
        )
        seeds.append(other.seed)
        per_seed = max(per_seed, time.perf_counter() - seed_started)
        for (_, markets), (_, more) in zip(
            pooled, markets_of(extra, f"{other.seed}:"), strict=True
        ):
            markets.update(more)
    if len(seeds) > 1:
        lap(f"{len(seeds) - 1} more seeds")
    verdicts = judge(pooled, seed=sim.seed) if len(seeds) > 1 else report.verdicts
    quality = score_quality(
        [ScoredWallet(a, float(s.score), s.tier) for a, s in scores.items()], truth
    )
    return DemoResult(
        sim=sim,
        logs_path=logs_path,
        truth_path=truth_path,
        database_dsn=dsn,
        logs=len(emitted.logs),
        ingest=ingest,
        truth=truth,
        scores=scores,
        quality=quality,
        backtest=report,
        strategy=strategy,
        signals_stored=stored,
        forward=forward,
        flagged=flagged,
        quality_over_time=over_time.steps,
        timings=timings,
        seeds=seeds,
        seeds_skipped=skipped,
        pooled=verdicts,
        prior=Prior(**reputation_run.prior) if reputation_run.prior else None,
        prior_floor=(reputation or ReputationSettings()).prior_sd_floor,
    )
