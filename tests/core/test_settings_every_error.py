"""A command refused for its settings names every bad variable at once, under one heading
(``orderflow: invalid settings:`` then one ``  VARIABLE: reason`` line each), exit 2, no traceback.

Before 6 Dec 2026 the command read its settings model by model (the log settings, then
OpenTelemetry's, then its own, then the executor's credentials) and stopped at the first model
that failed: ``LOG_LEVEL=bogus HEALTH_PORT=99999 orderflow listen`` named LOG_LEVEL alone, and the
user fixed it to meet the next refusal; the heading named a Python class
(``invalid ListenerSettings settings:``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_env import orderflow_env, run_orderflow


def _refused(tmp_path: Path, *args: str, **bad: str) -> list[str]:
    env = orderflow_env(f"postgresql://postgres@/x?host={tmp_path / 'none'}", tmp_path, **bad)
    done = run_orderflow(env, *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.splitlines()


@pytest.mark.parametrize(
    ("args", "bad"),
    [
        (["listen"], {"LOG_LEVEL": "bogus", "HEALTH_PORT": "99999"}),
        (["migrate"], {"LOG_LEVEL": "bogus", "OTEL_TRACES_EXPORTER": "zipkin", "CHAIN_ID": "0"}),
        (["execute"], {"HEALTH_PORT": "-1", "POLY_FUNDER": "0x12"}),
        (["operator"], {"LOG_LEVEL": "loud", "OPERATOR_STATUS_INTERVAL_SECS": "0"}),
    ],
)
def test_every_bad_variable_is_named_under_one_heading(
    tmp_path: Path, args: list[str], bad: dict[str, str]
) -> None:
    lines = _refused(tmp_path, *args, **bad)
    assert lines[0] == "orderflow: invalid settings:", lines
    named = sorted(line.strip().split(":")[0] for line in lines[1:])
    assert named == sorted(bad), lines


def test_one_bad_variable_is_said_the_same_way(tmp_path: Path) -> None:
    lines = _refused(tmp_path, "migrate", CHAIN_ID="0")
    assert lines == ["orderflow: invalid settings:", "  CHAIN_ID: Input should be greater than 0"]
