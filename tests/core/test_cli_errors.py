"""How the ``orderflow`` command reports an error, run as a user runs it (its own process).

In text logs (a terminal, ``LOG_FORMAT=text``) an error is one line, ``orderflow: …``; before
5 Dec 2026 an ERROR log line said the same thing first. In JSON logs (containers, pipes) the
error is also a JSON record, for the log collector. A refusal of what the command was given is
said as what it is (``no such file``), not labelled a configuration error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def orderflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``orderflow ARGS`` with ``env`` over this process's environment (no DATABASE_URL, no
    LOG_* or OTEL_* variable unless given)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if k != "DATABASE_URL" and not k.startswith(("LOG_", "OTEL_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "orderflow", *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _unreachable(tmp_path: Path) -> str:
    """A DATABASE_URL whose socket directory holds no server: `cannot connect` (exit 1)."""
    return f"postgresql://postgres@/orderflow?host={tmp_path / 'nosocket'}"


def test_an_error_is_one_line_in_text_logs(tmp_path: Path) -> None:
    done = orderflow("migrate", DATABASE_URL=_unreachable(tmp_path), LOG_FORMAT="text")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("orderflow: cannot connect to PostgreSQL: "), lines


@pytest.mark.parametrize(
    ("args", "code"), [(["migrate"], 1), (["import", "missing.csv"], 2), (["wallet", "0x1"], 2)]
)
def test_an_error_is_also_a_json_record_in_json_logs(
    tmp_path: Path, args: list[str], code: int
) -> None:
    """Exit 1 (the work failed) and 2 (what it was given is wrong) alike: before 5 Dec 2026 a
    refused argument or setting was no record, only the line."""
    done = orderflow(*args, DATABASE_URL=_unreachable(tmp_path), LOG_FORMAT="json")
    assert done.returncode == code, done.stderr
    records = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    said = [x for x in done.stderr.splitlines() if x.startswith("orderflow: ")]
    assert len(said) == 1, done.stderr
    errors = [r for r in records if r["level"] == "ERROR"]
    assert [r["msg"] for r in errors] == [said[0].removeprefix("orderflow: ")]


@pytest.mark.parametrize("command", [["import"], ["listen", "--from-file"]])
def test_a_missing_file_is_named_as_one(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "fills.csv"
    done = orderflow(*command, str(missing), LOG_FORMAT="text")
    assert done.returncode == 2, done.stderr
    assert "configuration error" not in done.stderr
    assert done.stderr.startswith("orderflow: "), done.stderr
    assert f"no such file: {missing}" in done.stderr


SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "polymarket-logs.jsonl"


@pytest.mark.parametrize("command", [["migrate"], ["reputation", "run"], ["import", str(SAMPLE)]])
def test_an_otlp_endpoint_without_a_scheme_is_refused_by_every_command(
    dsn: str, tmp_path: Path, command: list[str]
) -> None:
    """The chart sets OTEL_EXPORTER_OTLP_ENDPOINT on every workload; the listener and the
    executor refused `collector:4318`, but `migrate` (the migrations Job), `reputation run` (the
    CronJob), `import` and the rest ran on as if it were not set."""
    done = orderflow(
        *command,
        DATABASE_URL=dsn,
        ORDERFLOW_DATA_DIR=str(tmp_path),
        OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318",
        LOG_FORMAT="text",
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in done.stderr
    assert "http://" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "env",
    [
        {"LOG_LEVEL": "bogus", "LOG_FORMAT": "json"},
        {"LOG_LEVEL": "bogus"},  # piped: JSON by default
        {"LOG_LEVEL": "bogus", "LOG_FORMAT": "yaml"},  # the format too: still the default
        {"OTEL_TRACES_EXPORTER": "zipkin", "LOG_FORMAT": "json"},  # logging itself was valid
    ],
)
def test_a_refused_log_setting_is_a_json_record_naming_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """A process refusing its own logging settings leaves one ERROR record a collector reads
    (what, which variables); before 7 Dec 2026 the refusal was the stderr line alone, logging not
    yet set up: no record at all."""
    done = orderflow("migrate", DATABASE_URL=_unreachable(tmp_path), **env)
    assert done.returncode == 2, done.stderr
    said = [x for x in done.stderr.splitlines() if x.startswith("orderflow: ")]
    assert said == ["orderflow: invalid settings:"], done.stderr
    records = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    errors = [r for r in records if r["level"] == "ERROR"]
    assert len(errors) == 1, done.stderr
    bad = sorted(k for k in env if env[k] not in ("json",))
    assert errors[0]["variables"] == bad, errors
    assert all(f"{name}: " in errors[0]["msg"] for name in bad), errors


def test_a_refused_log_setting_in_text_is_the_refusal_alone(tmp_path: Path) -> None:
    """Control: in text logs the refusal is its lines, no log record repeating them."""
    done = orderflow(
        "migrate", DATABASE_URL=_unreachable(tmp_path), LOG_LEVEL="x", LOG_FORMAT="text"
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "orderflow: invalid settings:", lines
    assert [x.split(":")[0].strip() for x in lines[1:]] == ["LOG_LEVEL"], lines
