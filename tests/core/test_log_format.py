"""Logs a person can read: text in a terminal, JSON through pipes; LOG_FORMAT / --log-format win.

Each command runs for real (``orderflow migrate`` on an empty database logs one line per applied
migration), either on a pseudo-terminal (stdout and stderr are a TTY, as in a shell) or with
both streams piped (as in a container or ``| jq``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pty
import re
import subprocess
import sys

import pytest

from orderflow.telemetry import TextFormatter, default_log_format
from tests.conftest import scratch_database

TEXT_LINE = re.compile(
    r"^\d\d:\d\d:\d\d\.\d{3} INFO    orderflow\.migrate  applied migration  "
    r"migration=001_core_schema\.sql$",
    re.MULTILINE,
)


def _env(dsn: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LOG_FORMAT", "LOG_LEVEL")}
    env.update(DATABASE_URL=dsn, **extra)
    return env


def _on_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run with stdin, stdout and stderr on a pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks: list[bytes] = []
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        while chunk := os.read(master, 65536):
            chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode().replace("\r\n", "\n")


def _piped(args: list[str], env: dict[str, str]) -> str:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


async def _migrate(
    pg_server_dsn: str, *, terminal: bool, flags: tuple[str, ...] = (), **env: str
) -> str:
    args = [sys.executable, "-m", "orderflow", "migrate", *flags]
    async with scratch_database(pg_server_dsn, prefix="log") as dsn:
        run = _on_terminal if terminal else _piped
        return await asyncio.to_thread(run, args, _env(dsn, **env))


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _applied_in_json(output: str) -> bool:
    return any(
        rec.get("msg") == "applied migration" and rec.get("migration") == "001_core_schema.sql"
        for rec in _json_lines(output)
    )


async def test_a_terminal_gets_text(pg_server_dsn: str) -> None:
    output = await _migrate(pg_server_dsn, terminal=True)
    assert TEXT_LINE.search(output), output
    assert not _json_lines(output)


async def test_a_pipe_gets_json(pg_server_dsn: str) -> None:
    output = await _migrate(pg_server_dsn, terminal=False)
    assert _applied_in_json(output), output
    assert not TEXT_LINE.search(output)


async def test_log_format_overrides_the_terminal_both_ways(pg_server_dsn: str) -> None:
    on_terminal = await _migrate(pg_server_dsn, terminal=True, LOG_FORMAT="json")
    assert _applied_in_json(on_terminal), on_terminal
    piped = await _migrate(pg_server_dsn, terminal=False, LOG_FORMAT="text")
    assert TEXT_LINE.search(piped), piped


async def test_the_flag_overrides_log_format(pg_server_dsn: str) -> None:
    output = await _migrate(
        pg_server_dsn, terminal=False, flags=("--log-format", "json"), LOG_FORMAT="text"
    )
    assert _applied_in_json(output), output


def test_default_is_json_when_not_on_a_terminal() -> None:
    # Under pytest both streams are captured (not TTYs): the machine format.
    assert default_log_format() == "json"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "order placed"),
        ({"order_id": 7, "strategy": "alpha"}, "order placed  order_id=7 strategy=alpha"),
        ({"reason": "price moved", "q": 'a"b'}, 'order placed  reason="price moved" q="a\\"b"'),
    ],
)
def test_text_lines_read_left_to_right(extra: dict[str, object], expected: str) -> None:
    record = logging.LogRecord(
        "orderflow.execution", logging.WARNING, __file__, 1, "order %s", ("placed",), None
    )
    record.__dict__.update(extra)
    line = TextFormatter().format(record)
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3} WARNING orderflow\.execution  " + re.escape(expected), line
    ), line
