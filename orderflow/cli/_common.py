"""Helpers shared by the subcommand modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from pydantic_settings import BaseSettings

from orderflow.config import LogSettings, invalid_settings, read, settings_problems
from orderflow.errors import ConfigError, OrderflowError
from orderflow.strategy.names import name_problem
from orderflow.telemetry import setup_logging

S = TypeVar("S", bound=BaseSettings)


def logging_for(settings: LogSettings, args: argparse.Namespace | None = None) -> None:
    """The one logging rule of every command: --log-format, else LOG_FORMAT, else the terminal
    decides (text when a person watches, JSON for containers, pipes and files)."""
    setup_logging(settings.log_level, getattr(args, "log_format", None) or settings.log_format)


def settings_for(
    model: type[S],
    args: argparse.Namespace | None = None,
    *also: type[BaseSettings],
    **overrides: object,
) -> S:
    """Load a settings model and set up logging from it. ``also``: the other models the command
    reads next (the executor's credentials), checked now so that one refusal names every bad
    variable of them all."""
    settings, problems = read(model, **overrides)
    problems += settings_problems(*also)
    if settings is None or problems:
        raise invalid_settings(problems)
    if isinstance(settings, LogSettings):
        logging_for(settings, args)
    return settings


def readable(path: Path, prefix: str = "") -> Path:
    """A file an option or argument names to read: a clear refusal when it is not one."""
    if path.is_dir():
        raise ConfigError(f"{prefix}{path} is a directory: give its files, e.g. {path}/*")
    if not path.is_file():
        raise ConfigError(f"{prefix}no such file: {path}")
    return path


def writable(path: Path, option: str) -> Path:
    """A file an option names to write: refused before any work when it cannot be one."""
    if not path.parent.exists():
        raise ConfigError(f"{option}: directory {path.parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"{option}: {path} is a directory")
    return path


def write_outputs(*outputs: tuple[Path, str, Callable[[Path], None]]) -> None:
    """Write the files options name (each: its path, its option, its writer), all or none: a
    regular or new file through a temporary file beside it, put in place once every one is
    written, so a failed write (a full disk) leaves each file as it was; another kind
    (/dev/stdout, a pipe) is written to directly. A failed write is one line naming its option
    (exit 1)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, option, write in outputs:
            target = path
            if path.is_file() or not path.exists():
                target = path.with_name(f".{path.name}.partial")
                staged.append((target, path))
            try:
                write(target)
            except OSError as exc:
                raise OrderflowError(f"{option}: cannot write {path}: {exc.strerror}") from None
        for temporary, path in staged:
            temporary.replace(path)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def strategy_names(names: list[str], option: str) -> list[str]:
    """The strategy names an option gives, each checked (one line naming the option)."""
    for name in names:
        if (problem := name_problem(name)) is not None:
            raise ConfigError(f"{option}: {problem}")
    return names


def add_log_format(parser: argparse.ArgumentParser, *, inherit: bool = False) -> None:
    """``--log-format``; ``inherit``: a subcommand's, which keeps its parent command's value
    when not given (``orderflow operator --log-format text retire``)."""
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default=argparse.SUPPRESS if inherit else None,
        help="override LOG_FORMAT for this run",
    )


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 or unix seconds, as UTC; a clear error otherwise (a time past the calendar's
    year 1 to 9999 in UTC too)."""
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # its UTC is in the calendar (9999-12-31T23:00-05:00 is not)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(
            f"not a timestamp: {value!r} (use ISO 8601 like 2026-05-01T12:00:00Z, or unix seconds,"
            " within the years 1 to 9999)"
        ) from None
    return parsed
