"""``orderflow demo``: simulate, ingest, score, paper-trade and report: the whole system."""

from __future__ import annotations

import argparse
import math
import re
from pathlib import Path

from orderflow import db
from orderflow.cli._common import add_log_format, settings_for, write_outputs
from orderflow.cli.backtest import (
    add_strategy_options,
    execution_values,
    quiet_logging,
)
from orderflow.cli.simulate import add_sim_options, sim_config
from orderflow.cli.strategy_settings import build_settings
from orderflow.config import CommonSettings
from orderflow.demo import demo_strategy, render_html, render_text, run_demo
from orderflow.demo.store import DEMO_DATABASE
from orderflow.durations import parse_duration
from orderflow.errors import ConfigError

_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole system on a simulated market and write a report (start here)",
        description="Simulates a month of Polymarket trading, ingests it through the listener, "
        "scores every wallet, replays the executor's paper strategy walk-forward, and reports "
        "scores beside the hidden truth and P&L against two baselines. Uses a fresh database "
        "'orderflow_demo' on the embedded PostgreSQL (or on DATABASE_URL's server).",
    )
    add_sim_options(p)
    add_strategy_options(p)
    p.add_argument(
        "--out-dir",
        type=Path,
        default=Path("orderflow-demo"),
        help="where logs.jsonl, truth.json and report.html go (default ./orderflow-demo)",
    )
    p.add_argument(
        "--database",
        default=DEMO_DATABASE,
        help="name of the database to (re)create for the demo (default orderflow_demo)",
    )
    p.add_argument(
        "--seeds",
        type=int,
        help="histories to pool for the verdict's interval: this seed and the next ones "
        "(default 3, fewer when another would end the demo after 75 s; --small 1); the report "
        "details the first",
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(CommonSettings,))


def _out_dir(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"--out-dir: {path} exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out-dir: cannot create {path}: {exc.strerror}") from None
    return path


def _database(name: str) -> str:
    if not _DB_NAME.match(name):
        raise ConfigError(f"--database: use lower-case letters, digits and _ (got {name!r})")
    return name


async def run(args: argparse.Namespace) -> int:
    sim = sim_config(args)
    step = parse_duration(args.step, "--step")
    base = demo_strategy(sim).model_dump()
    strategy = build_settings(base, assignments=args.set)
    execution = execution_values(args)
    seeds = args.seeds if args.seeds is not None else (1 if args.small else 3)
    if not 1 <= seeds <= 20:
        raise ConfigError(f"--seeds: between 1 and 20, got {seeds}")
    database = _database(args.database)  # every option is checked before any I/O
    out_dir = _out_dir(args.out_dir)
    settings = settings_for(CommonSettings, args, **quiet_logging({}))
    server_dsn = await db.resolve_dsn(settings)
    print("orderflow demo: simulating, ingesting, scoring and replaying (1-3 minutes) …")
    result = await run_demo(
        server_dsn,
        sim,
        out_dir,
        strategy,
        step_secs=step,
        database=database,
        extra_seeds=seeds - 1,
        seed_budget_secs=math.inf if args.seeds is not None else 75.0,
        execution=execution,
    )
    html_path = out_dir / "report.html"
    html = render_html(result)

    def write_html(path: Path) -> None:
        path.write_text(html, encoding="utf-8")

    write_outputs((html_path, "--out-dir", write_html))
    print(render_text(result, str(html_path)))
    return 0
