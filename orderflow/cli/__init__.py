"""The ``orderflow`` command: a thin layer that parses arguments and calls the stages.

Each subcommand lives in its own module here and exposes ``register(subparsers)``; the module's
handler receives the parsed namespace and returns an exit code (coroutines are run for it).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Sequence

from orderflow import __version__
from orderflow.cli._common import logging_for
from orderflow.config import LogSettings, load
from orderflow.errors import ConfigError, OrderflowError
from orderflow.tracing import shutdown_tracing

# Subcommand modules, in the order `orderflow --help` lists them.
COMMANDS: tuple[str, ...] = (
    "migrate",
    "listen",
    "importer",  # `orderflow import`
    "reputation",
    "wallet",
    "strategy",
    "execute",
    "simulate",
    "demo",
    "backtest",
    "operator",
    "db",
)

log = logging.getLogger("orderflow")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orderflow",
        description="Polymarket order flow: ingest fills, score wallets, follow the skilled ones.",
    )
    parser.add_argument("--version", action="version", version=f"orderflow {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"orderflow.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"orderflow.cli.{name}":
                continue  # a stage not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        logging_for(load(LogSettings), args)  # commands with settings refine it
        result = args.handler(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except ConfigError as exc:
        print(f"orderflow: configuration error: {exc}", file=sys.stderr)
        return 2
    except OrderflowError as exc:
        log.error("%s", exc)
        print(f"orderflow: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        shutdown_tracing()  # send the spans still queued (no-op when nothing is exported)
    return int(result or 0)
