"""``orderflow reputation run``: score every wallet once (the CronJob) or every N seconds."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import random
import time

import asyncpg

from orderflow import db
from orderflow.cli._common import add_log_format, parse_timestamp, settings_for
from orderflow.errors import ConfigError, DatabaseError
from orderflow.health import HealthServer
from orderflow.migrate import migrate
from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.telemetry import setup_telemetry

log = logging.getLogger(__name__)


_SETTING = object()
"""--interval without a value: loop every CALCULATION_INTERVAL_SECONDS (not a string: argparse
would pass a string const through ``type``)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("reputation", help="score wallets from their resolved trades (0-10, tier)")
    rsub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    r = rsub.add_parser(
        "run",
        help="recompute every wallet's statistics, score and tier",
        description="Compute once and exit (what the CronJob runs). With --interval, loop: "
        "SECONDS, or CALCULATION_INTERVAL_SECONDS when given without a value.",
    )
    r.add_argument(
        "--interval",
        nargs="?",
        const=_SETTING,
        type=float,
        metavar="SECONDS",
        help="repeat every SECONDS (default CALCULATION_INTERVAL_SECONDS, 3600)",
    )
    r.add_argument(
        "--as-of",
        metavar="TIMESTAMP",
        help="use only trades and resolutions known at this time (ISO 8601 or unix seconds, not "
        "after now); writes only score history stamped with it, nothing live",
    )
    r.add_argument(
        "--full",
        action="store_true",
        help="recompute every wallet (default: only the wallets whose inputs changed since the "
        "last run, when that run left its inputs; the scores are the same either way)",
    )
    add_log_format(r)
    r.set_defaults(handler=run, settings=(ReputationSettings,))


async def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if isinstance(args.interval, float):  # a value given (without one: the setting's)
        if not 0 < args.interval < math.inf:
            raise ConfigError(f"--interval: must be positive and finite, got {args.interval:g}")
        overrides["calculation_interval_secs"] = args.interval
    settings = settings_for(ReputationSettings, args, **overrides)
    # Parsed here, not by argparse: a ConfigError raised inside parse_args escapes main().
    as_of = parse_timestamp(args.as_of) if args.as_of is not None else None
    if args.interval is not None and as_of is not None:
        raise ConfigError("--as-of scores one point in time: it cannot be combined with --interval")
    async with db.open_pool(settings, min_size=1, max_size=2) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
        if args.interval is None:
            summary = await run_reputation(
                pool, as_of=as_of, settings=settings, full=getattr(args, "full", False)
            )
            print(json.dumps(summary.model_dump(mode="json")))
            return 0
        await _loop(pool, settings, full=getattr(args, "full", False))
    return 0


async def _loop(pool: asyncpg.Pool, settings: ReputationSettings, *, full: bool = False) -> None:
    """Run every ``calculation_interval_secs``; a failed run is logged and retried next time."""
    setup_telemetry("reputation")
    health = HealthServer(settings.health_port) if settings.health_port else None
    last_ok = time.monotonic()

    async def fresh() -> tuple[bool, str]:
        age = time.monotonic() - last_ok
        return age < 2 * settings.calculation_interval_secs + 60, f"last success {age:.0f}s ago"

    if health:
        health.add_check("reputation", fresh)
        await health.start()
    try:
        while True:
            try:
                summary = await run_reputation(pool, settings=settings, full=full)
                last_ok = time.monotonic()
                print(json.dumps(summary.model_dump(mode="json")), flush=True)
            except DatabaseError as exc:
                log.error("reputation run failed: %s", exc)
            except (asyncpg.PostgresError, OSError) as exc:
                log.error("reputation run failed: %s: %s", type(exc).__name__, exc)
            jitter = random.uniform(0, min(30.0, settings.calculation_interval_secs / 10))
            await asyncio.sleep(settings.calculation_interval_secs + jitter)
    finally:
        if health:
            await health.stop()
