"""``orderflow backtest``: walk forward over stored trades — would following the scores pay?"""

from __future__ import annotations

import argparse
import json
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

from pydantic import ValidationError

from orderflow import db
from orderflow.backtest import BacktestOptions, BacktestReport, render, run_backtest
from orderflow.backtest.forward import forward_test, forward_text, median_resolution
from orderflow.backtest.history import strategy_settings_json
from orderflow.backtest.latency import DEFAULT_LATENCY_SECS, DEFAULT_VISIBILITY_SECS
from orderflow.backtest.quality import QualityOverTime
from orderflow.backtest.scoring import reputation_scorer
from orderflow.cli._common import (
    add_log_format,
    parse_timestamp,
    settings_for,
    writable,
    write_outputs,
)
from orderflow.cli.strategy_settings import build_settings
from orderflow.config import CommonSettings
from orderflow.durations import parse_duration
from orderflow.errors import ConfigError, OrderflowError
from orderflow.migrate import migrate
from orderflow.reputation import ReputationSettings, compute_scores
from orderflow.sim import ScoredWallet, read_truth, score_quality


def add_strategy_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a strategy setting (snake_case or camelCase, see `strategy show`), "
        "repeatable",
    )
    p.add_argument("--step", default="1d", help="walk-forward step: 3600, 30m, 6h, 1d (default)")
    p.add_argument(
        "--latency",
        help="leader's fill to our order at the exchange, e.g. 8s (default "
        f"{DEFAULT_LATENCY_SECS:g} s: confirmations + signal + order placement)",
    )
    p.add_argument(
        "--book-window",
        help="how long after our order the chain may reveal the book it met, e.g. 30m "
        "(default: the strategy's order life, order_ttl_secs, as the executor's orders live); "
        "nothing traded in it: no fill",
    )


def _seconds(value: str, option: str) -> float:
    """A duration that may be 0 (``0``, ``0s``), else :func:`parse_duration`'s."""
    return 0.0 if value.strip() in ("0", "0s") else parse_duration(value, option)


def execution_values(args: argparse.Namespace) -> dict[str, object]:
    """``--latency`` / ``--book-window`` as BacktestOptions fields (only those given)."""
    values: dict[str, object] = {}
    if args.latency is not None:
        values["latency_secs"] = _seconds(args.latency, "--latency")
    if args.book_window is not None:
        values["book_window_secs"] = parse_duration(args.book_window, "--book-window")
    return values


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "backtest",
        help="walk-forward backtest of a strategy and two baselines over stored trades",
        description="Replays stored trades in time order. At each step, wallet scores are "
        "computed as of the step's start (no look-ahead) and the executor's decision code "
        "decides on every fill; paper fills are settled when markets resolve. Baselines: follow "
        "every wallet, follow a seeded random share of wallets.",
    )
    p.add_argument("--start", help="first time to replay (ISO 8601 or unix seconds)")
    p.add_argument("--end", help="last time to replay (ISO 8601 or unix seconds)")
    p.add_argument("--strategy", help="use this stored strategy's settings (orderflow_strategies)")
    add_strategy_options(p)
    p.add_argument("--baseline-stake", default="100", help="USDC per fill for the baselines")
    p.add_argument(
        "--random-share",
        type=float,
        default=0.1,
        help="share of wallets followed by the random baseline (0-1]",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the random baseline")
    p.add_argument(
        "--visibility",
        help="how long after its block a fill is stored by the listener and so known to a "
        f"decision, e.g. 2s (default {DEFAULT_VISIBILITY_SECS:g} s: the listener's confirmations "
        "and lag; at most the latency)",
    )
    p.add_argument("--truth", type=Path, help="simulator truth file: also report score quality")
    p.add_argument("--json", type=Path, help="also write the summaries as JSON here")
    add_log_format(p)
    p.set_defaults(handler=run, settings=(CommonSettings,))


def _options(args: argparse.Namespace) -> BacktestOptions:
    values: dict[str, object] = {
        "step_secs": parse_duration(args.step, "--step"),
        "random_share": args.random_share,
        "seed": args.seed,
        **execution_values(args),
    }
    if args.visibility is not None:
        values["visibility_secs"] = _seconds(args.visibility, "--visibility")
    try:
        values["baseline_stake_usd"] = Decimal(args.baseline_stake)
    except InvalidOperation:
        raise ConfigError(f"--baseline-stake: not a number: {args.baseline_stake!r}") from None
    for name in ("start", "end"):
        raw = getattr(args, name)
        if raw is not None:
            try:
                values[name] = parse_timestamp(raw)
            except ConfigError as exc:
                raise ConfigError(f"--{name}: {exc}") from None
    try:
        return BacktestOptions.model_validate(values)
    except ValidationError as exc:
        names = {
            "step_secs": "--step",
            "baseline_stake_usd": "--baseline-stake",
            "random_share": "--random-share",
            "seed": "--seed",
            "latency_secs": "--latency",
            "book_window_secs": "--book-window",
            "visibility_secs": "--visibility",
        }
        problems = []
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            problems.append(f"{names.get(field, '--start/--end')}: {e['msg']}")
        raise ConfigError("; ".join(problems)) from None


def quiet_logging(overrides: dict[str, object]) -> dict[str, object]:
    """Report commands log warnings only unless LOG_LEVEL says otherwise."""
    if not os.environ.get("LOG_LEVEL"):
        overrides["LOG_LEVEL"] = "WARNING"
    return overrides


async def run(args: argparse.Namespace) -> int:
    options = _options(args)
    truth = read_truth(args.truth) if args.truth is not None else None
    if args.json is not None:
        writable(args.json, "--json")
    # Without a stored strategy the settings are known now: refuse bad --set before any I/O.
    strategy = None if args.strategy else build_settings(None, assignments=args.set)
    settings = settings_for(CommonSettings, args, **quiet_logging({}))
    async with db.open_pool(settings, max_size=4) as pool, pool.acquire() as conn:
        await migrate(conn)
        if strategy is None:
            stored = await strategy_settings_json(conn, args.strategy)
            if stored is None:
                raise ConfigError(f"--strategy: no strategy named {args.strategy!r}")
            strategy = build_settings(stored, assignments=args.set)
        reputation = ReputationSettings()
        over_time = QualityOverTime(truth) if truth is not None else None
        report = await run_backtest(
            conn, strategy, options, reputation_scorer(reputation), on_scores=over_time
        )
        if report is None:
            raise OrderflowError(
                "no stored trades in that period: nothing to backtest (import some with "
                "`orderflow import` or `orderflow listen --from-file`, or run `orderflow demo`)"
            )
        if args.json is not None:  # first: printing may end the command (`| head`: 141)
            write_outputs((args.json, "--json", lambda path: _write_json(path, report)))
        print(render(report))
        scorer = reputation_scorer(reputation)
        r = report.result
        as_of = await median_resolution(conn, r.start, r.end)
        if as_of is not None:
            print("\n" + forward_text(await forward_test(conn, scorer, as_of=as_of, end=r.end)))
        if truth is not None:
            scores = await compute_scores(conn, as_of=report.result.end, settings=reputation)
            q = score_quality(
                [ScoredWallet(a, float(s.score), s.tier) for a, s in scores.items()], truth
            )
            auc = "n/a" if q.auc is None else f"{q.auc:.2f} ± {q.auc_se or 0:.2f}"
            print(
                f"\nScore quality (scores as of {report.result.end.isoformat()}): AUC skilled vs "
                f"not {auc}; Spearman "
                f"{q.spearman if q.spearman is None else round(q.spearman, 3)} over "
                f"{q.wallets_scored} wallets; WHALE/SMART truly skilled "
                f"{q.top_tier_truly_skilled}/{q.top_tier_wallets}; traps in WHALE/SMART: "
                f"{q.traps_text() or 'none in this world'}."
            )
            if over_time is not None:
                print(f"Score quality as known during the replay: {over_time.summary()}")
    return 0


def _write_json(path: Path, report: BacktestReport) -> None:
    """Each run's summary with its verdict, as ``--json`` writes them."""
    payload = []
    for summary, v in zip(report.summaries, report.verdicts, strict=True):
        row = summary.model_dump(mode="json")
        i = v.interval
        row["verdict"] = {
            "verdict": v.verdict,
            "return_per_dollar": i.estimate,
            "ci_low": i.low,
            "ci_high": i.high,
            "confidence": i.confidence,
            "markets": i.markets,
            # the clusters (resolution days; an open position alone) the interval's
            # Student's t has G - 1 degrees of freedom from
            "clusters": i.clusters,
        }
        payload.append(row)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
