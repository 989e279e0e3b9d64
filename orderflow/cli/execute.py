"""``orderflow execute``: run the executor (signals, sizing, risk, paper or live orders)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

import asyncpg
from pydantic import ValidationError

from orderflow import db
from orderflow.cli._common import add_log_format, settings_for, strategy_names
from orderflow.cli.strategy_settings import build_settings
from orderflow.config import load
from orderflow.errors import ConfigError
from orderflow.execution.broker import Broker, Mode
from orderflow.execution.credentials import LiveCredentials
from orderflow.execution.engine import Executor
from orderflow.execution.paper import PaperBroker
from orderflow.execution.settings import ExecutorSettings
from orderflow.execution.strategy_queries import (
    insert_strategy_if_absent,
    last_valid_settings,
    live_exposure_strategies,
    strategy_rows,
)
from orderflow.health import HealthServer
from orderflow.migrate import migrate
from orderflow.strategy.settings import StrategySettings
from orderflow.telemetry import setup_telemetry

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "execute",
        help="trade the strategies in the database (paper by default) as trades arrive",
        description="React to each stored trade within milliseconds (LISTEN/NOTIFY, 3 s polling "
        "fallback), record FOLLOW_WHALE / FADE_DEGEN signals, size them with fractional Kelly, "
        "apply risk limits and place paper or live orders. With no strategy in the database, "
        "one named STRATEGY_NAME (default 'default') is created from the seed's variables.",
    )
    p.add_argument(
        "--strategy",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this strategy (repeatable; default: EXECUTOR_STRATEGIES or all)",
    )
    add_log_format(p)
    p.set_defaults(handler=run, settings=(ExecutorSettings, LiveCredentials))


async def _ensure_default(conn: asyncpg.Connection, settings: ExecutorSettings) -> None:
    if await strategy_rows(conn):
        return
    strategy = build_settings(None, from_env=True, assignments=[])
    if await insert_strategy_if_absent(
        conn, settings.default_strategy, strategy.model_dump(mode="json"), source="env"
    ):
        log.info("created strategy from environment", extra={"strategy": settings.default_strategy})


async def _modes(
    conn: asyncpg.Connection, rows: list[asyncpg.Record], wanted: set[str]
) -> dict[str, list[str]]:
    """The modes the wanted strategies trade in, each with its strategies. A row whose settings
    do not validate never stops the start-up: it counts with its last valid settings (the
    executor halts it), and a strategy holding live positions or orders needs the live broker
    whatever its settings say (its exits go where its positions are)."""
    modes: dict[str, list[str]] = {}
    for row in rows:
        if wanted and row["name"] not in wanted:
            continue
        try:
            mode = StrategySettings.model_validate(row["settings"]).mode
        except ValidationError as exc:
            log.error(
                "strategy settings invalid; it starts halted",
                extra={"strategy": row["name"], "error": str(exc).splitlines()[0]},
            )
            last = await last_valid_settings(conn, row["name"])
            if last is None or last.get("mode") != "live":
                continue
            mode = "live"
        modes.setdefault(mode, []).append(row["name"])
    for name in await live_exposure_strategies(conn):
        if (not wanted or name in wanted) and name not in modes.get("live", []):
            modes.setdefault("live", []).append(name)
    return modes


def _no_key(live: list[str]) -> ConfigError:
    """The live strategies are stored ones: the variable only seeded the first."""
    names = ", ".join(f"'{n}'" for n in live)
    which = f"strategy {names} is" if len(live) == 1 else f"strategies {names} are"
    return ConfigError(
        f"{which} in live mode (stored in orderflow_strategies, or holding live positions or "
        "orders) but POLY_PRIVATE_KEY is not set; set it, or make a strategy paper: "
        f"`orderflow strategy set {live[0]} --set mode=paper`"
    )


def _warn_unknown(wanted: list[str], rows: list[asyncpg.Record]) -> None:
    """Strategies asked for by name (``--strategy``, EXECUTOR_STRATEGIES) that are not stored:
    not an error (an operator may create them after the executor starts, and the executor picks
    them up then), but a run that trades nothing must say why."""
    stored = {row["name"] for row in rows}
    missing = [name for name in wanted if name not in stored]
    if missing:
        log.warning(
            "strategies asked for are not in the database: they trade once created "
            "(`orderflow strategy set NAME`, or a TradingStrategy resource)",
            extra={"missing": missing, "stored": sorted(stored)},
        )


async def run(args: argparse.Namespace) -> int:
    overrides: dict[str, object] = {}
    if args.strategy:
        overrides["strategies"] = strategy_names(args.strategy, "--strategy")
    settings = settings_for(ExecutorSettings, args, LiveCredentials, **overrides)
    creds = load(LiveCredentials)
    setup_telemetry("executor")
    dsn = await db.resolve_dsn(settings)
    async with db.open_pool(settings) as pool:
        async with pool.acquire() as conn:
            await migrate(conn)
            await _ensure_default(conn, settings)
            rows = await strategy_rows(conn)
            modes = await _modes(conn, rows, set(settings.strategies))
        _warn_unknown(settings.strategies, rows)
        books = None
        if settings.paper_books:  # paper decisions quote from the CLOB's public books
            from orderflow.execution.live_connect import public_books

            books = public_books(creds.clob_url)
        brokers: dict[Mode, Broker] = {"paper": PaperBroker(pool, books=books)}
        if "live" in modes or creds.present:
            if not creds.present:
                raise _no_key(modes["live"])
            from orderflow.execution.live_connect import connect_live_broker

            if "live" in modes:
                # When the CLOB does not answer, the executor starts all the same and logs in
                # as soon as it does (a kill issued meanwhile is carried out then).
                brokers["live"] = await connect_live_broker(creds)
            else:  # nothing live: no log-in, no order heartbeat, until a strategy goes live
                from orderflow.execution.credentials import requested_wallet
                from orderflow.execution.live_lazy import LazyLiveBroker

                brokers["live"] = LazyLiveBroker(
                    lambda: connect_live_broker(creds), wallet=requested_wallet(creds)
                )
        executor = Executor(pool, dsn, settings, brokers)
        health = HealthServer(settings.health_port) if settings.health_port else None

        async def database() -> tuple[bool, str]:
            await pool.fetchval("SELECT 1")
            return True, "leader" if executor.is_leader else "standby"

        loop, main = asyncio.get_running_loop(), asyncio.current_task()
        if main is not None:  # SIGTERM (a pod stopping) ends the run like Ctrl-C, cleanly
            loop.add_signal_handler(signal.SIGTERM, main.cancel)
        try:
            if health:  # in the try: a port it cannot take still closes the brokers
                health.add_check("database", database)
                await health.start()
            await executor.run()
        except asyncio.CancelledError:
            pass
        finally:
            loop.remove_signal_handler(signal.SIGTERM)
            if health:
                await health.stop()
            for broker in brokers.values():
                await broker.close()
    return 0
