"""The ``orderflow`` command: a thin layer that parses arguments and calls the stages.

Each subcommand lives in its own module here and exposes ``register(subparsers)``; the module's
handler receives the parsed namespace and returns an exit code (coroutines are run for it).
A command that reads settings names their models as its ``settings`` default (a tuple), so that
a refusal of the common variables names its own bad ones as well.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import inspect
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from orderflow import __version__
from orderflow.cli._common import logging_for
from orderflow.config import (
    LogSettings,
    invalid_settings,
    read,
    settings_problems,
    usable_log_settings,
)
from orderflow.errors import ConfigError, InvalidSettings, OrderflowError
from orderflow.telemetry import logs_as_json, redact
from orderflow.tracing import TracingSettings, shutdown_tracing

# Subcommands, in the order `orderflow --help` lists them: command -> its module here.
COMMANDS: dict[str, str] = {
    "migrate": "migrate",
    "listen": "listen",
    "import": "importer",
    "reputation": "reputation",
    "wallet": "wallet",
    "strategy": "strategy",
    "execute": "execute",
    "simulate": "simulate",
    "demo": "demo",
    "backtest": "backtest",
    "operator": "operator",
    "db": "db",
}

log = logging.getLogger("orderflow")


class _Subcommand(argparse.ArgumentParser):
    """A subcommand's parser (and its own subcommands'): an argument it does not know is its
    error, shown with its usage. argparse hands such arguments up to the top parser, whose usage
    shows COMMAND and none of the subcommand's options."""

    def parse_known_args(
        self, args: Iterable[str] | None = None, namespace: Any = None
    ) -> tuple[Any, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command's parser. ``command``: register that subcommand only (what running it
    needs: a command imports its stage, and the stages' imports are most of a short command's
    time); None: every subcommand (``--help``, an unknown command's error lists them)."""
    parser = argparse.ArgumentParser(
        prog="orderflow",
        description="Polymarket order flow: ingest fills, score wallets, follow the skilled ones.",
    )
    parser.add_argument("--version", action="version", version=f"orderflow {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Subcommand
    )
    for name, module_name in COMMANDS.items():
        if command is not None and name != command:
            continue
        try:
            module = importlib.import_module(f"orderflow.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"orderflow.cli.{module_name}":
                continue  # a stage not built yet
            raise
        module.register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` starts with, if it is one (``orderflow`` takes no option before
    it but --help and --version)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    return _main(build_parser(_command(words)), words)


def run() -> int:
    """The ``orderflow`` process (the console script, ``python -m orderflow``): :func:`main` of
    its arguments, the cyclic collector kept off what lives to the process's end. The objects the
    imports make (modules, classes, schemas) live as long as the process (≈ 900 of ≈ 90,000 are
    cyclic garbage, left): no collection while the command's modules are imported, then they are
    frozen (no later collection walks them again); and everything is frozen again at the exit,
    whose collections would walk it all once more only to free what the process's end frees
    anyway (≈ 0.1 s of a short command; docs/benchmarks.md "session 46")."""
    words = sys.argv[1:]
    gc.disable()
    try:
        parser = build_parser(_command(words))
    finally:
        gc.freeze()
        gc.enable()
    try:
        return _main(parser, words)
    finally:
        gc.freeze()


def _main(parser: argparse.ArgumentParser, words: list[str]) -> int:
    try:
        args = parser.parse_args(words)
        # The chart sets OTEL_* on every workload: a bad value is refused by every command, not
        # only by the processes that export spans (the listener, the executor). A refusal names
        # the bad variables of the command's own settings too (its `settings`), not only these.
        # Logging first, as far as its variables are valid: a refusal of them is a record too.
        log_settings, problems = read(LogSettings)
        problems += settings_problems(TracingSettings)
        logging_for(log_settings or usable_log_settings(), args)  # commands with settings refine it
        if problems:
            raise invalid_settings(problems + settings_problems(*getattr(args, "settings", ())))
        result = args.handler(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except OrderflowError as exc:  # the message says what is wrong: a setting, an argument, …
        if logs_as_json():  # a record for the log collector; a text log would say it twice
            named = {"variables": list(exc.variables)} if isinstance(exc, InvalidSettings) else {}
            log.error("%s", exc, extra=named)
        print(f"orderflow: {redact(str(exc))}", file=sys.stderr)  # no secret, whoever wrote it
        return 2 if isinstance(exc, ConfigError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `orderflow backtest | head`: the reader left; nothing to tell it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141  # 128 + SIGPIPE, as a shell reports `yes | head`
    finally:
        shutdown_tracing()  # send the spans still queued (no-op when nothing is exported)
    return int(result or 0)
