"""``orderflow simulate``: a seeded simulated Polymarket history as raw logs, plus its truth."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pydantic import ValidationError

from orderflow.cli._common import add_log_format, parse_timestamp, writable, write_outputs
from orderflow.errors import ConfigError
from orderflow.sim import SimConfig, simulate, truth_of, write_truth
from orderflow.sim.emit import emit, write_logs
from orderflow.sim.population import VARIANTS
from orderflow.sim.truth import population_summary

# SimConfig field -> the option that sets it (error messages name the option).
OPTION_OF = {
    "seed": "--seed",
    "markets": "--markets",
    "wallets": "--wallets",
    "days": "--days",
    "exchange": "--exchange",
    "neg_risk_share": "--neg-risk-share",
    "taker_fee_bps": "--fee-bps",
    "start": "--start",
    "start_block": "--start-block",
    "population": "--population",
}


def add_sim_options(p: argparse.ArgumentParser) -> None:
    """Options shared with ``orderflow demo``."""
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    p.add_argument("--markets", type=int, help="markets to simulate (default 36; --small 20)")
    p.add_argument("--wallets", type=int, help="trading wallets (default 240; --small 80)")
    p.add_argument("--days", type=float, help="days of history (default 30; --small 14)")
    p.add_argument("--exchange", choices=("v2", "v1"), default="v2", help="exchange generation")
    p.add_argument("--neg-risk-share", type=float, help="share of neg-risk events (default 0.3)")
    p.add_argument("--fee-bps", type=int, help="V2 taker fee rate in bps (default 300)")
    p.add_argument("--start", help="time of the first block, ISO 8601 or unix seconds")
    p.add_argument("--start-block", type=int, help="number of the first block")
    p.add_argument("--small", action="store_true", help="a small world that runs in seconds")
    p.add_argument(
        "--population",
        choices=sorted(VARIANTS),
        default="default",
        help="the mix of wallets (docs/simulator.md, Population variants): more penny "
        "pickers, market makers that also bet, wash pairs or rings, lucky big bets, skill small "
        "or strong, complete-set arbitrageurs, partisans of a common factor; "
        "skilled_many_strong is a market where skill pays (default: default)",
    )
    p.add_argument(
        "--adapter-events",
        action="store_true",
        help="also emit the NegRiskAdapter's own split/merge/conversion logs "
        "(a listener that does not ignore them dead-letters them)",
    )


def sim_config(args: argparse.Namespace) -> SimConfig:
    """Build the SimConfig from parsed options; a bad value is a ConfigError naming its option."""
    values: dict[str, object] = {
        "seed": args.seed,
        "exchange": args.exchange,
        "population": VARIANTS[args.population],
    }
    if args.adapter_events:
        values["adapter_events"] = True
    for field, value in (
        ("markets", args.markets),
        ("wallets", args.wallets),
        ("days", args.days),
        ("neg_risk_share", args.neg_risk_share),
        ("taker_fee_bps", args.fee_bps),
        ("start_block", args.start_block),
    ):
        if value is not None:
            values[field] = value
    if args.start is not None:
        try:
            values["start"] = parse_timestamp(args.start)
        except ConfigError as exc:
            raise ConfigError(f"--start: {exc}") from None
    try:
        return SimConfig.small(**values) if args.small else SimConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            problems.append(f"{OPTION_OF.get(field, field or 'options')}: {err['msg']}")
        raise ConfigError("; ".join(problems)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a seeded simulated Polymarket history (raw logs) and its hidden truth",
        description="Agent-based Polymarket simulator. Writes JSON lines of raw eth_getLogs "
        "objects (import them with `orderflow listen --from-file`) and a truth file with every "
        "wallet's hidden skill and every market's true probability.",
    )
    add_sim_options(p)
    p.add_argument("--out", required=True, type=Path, help="JSON-lines file of raw logs")
    p.add_argument("--truth", required=True, type=Path, help="JSON file of the hidden truth")
    add_log_format(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = sim_config(args)
    out = writable(args.out, "--out")
    truth_path = writable(args.truth, "--truth")
    if out.resolve() == truth_path.resolve():
        raise ConfigError("--out and --truth must be different files")
    started = time.perf_counter()
    world = simulate(cfg)
    emitted = emit(world)
    truth = truth_of(world)
    write_outputs(
        (out, "--out", lambda path: write_logs(emitted.logs, path)),
        (truth_path, "--truth", lambda path: write_truth(truth, path)),
    )
    print(
        f"simulated {cfg.days:g} days, {len(world.conditions)} conditions, "
        f"{len(world.wallets)} wallets: {len(emitted.logs)} logs ({len(emitted.fills)} fills) "
        f"-> {out}, truth -> {truth_path} in {time.perf_counter() - started:.1f}s"
    )
    print(population_summary(truth))
    return 0
