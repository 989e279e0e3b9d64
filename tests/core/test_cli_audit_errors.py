"""Audit (6 Dec 2026): a port a command cannot serve on is one line and exit 2, not a
traceback; a secret an error message quotes is masked on the ``orderflow:`` line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderflow.cli import main
from orderflow.errors import ConfigError
from tests.cli_env import orderflow_env, run_orderflow_async

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "polymarket-logs.jsonl"


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another process listens on (every address, as the health server binds)."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))  # noqa: S104
        s.listen()
        yield int(s.getsockname()[1])


def _one_line(stderr: str, *words: str) -> None:
    assert "Traceback" not in stderr, stderr
    (line,) = [x for x in stderr.splitlines() if x.startswith("orderflow: ")]
    assert all(w in line for w in words), line


@pytest.mark.parametrize("port", ["-1", "70000"])
async def test_a_metrics_port_out_of_range_is_refused_naming_it(
    dsn: str, tmp_path: Path, port: str
) -> None:
    """Before: OverflowError from bind(), a traceback and exit 1."""
    env = orderflow_env(dsn, tmp_path)
    done = await run_orderflow_async(env, "import", "--metrics-port", port, str(SAMPLE))
    assert done.returncode == 2, done.stderr
    _one_line(done.stderr, "--metrics-port", port)


@pytest.mark.parametrize("command", [["execute"], ["reputation", "run", "--interval", "3600"]])
async def test_a_taken_health_port_is_one_line_and_exit_2(
    dsn: str, tmp_path: Path, taken_port: int, command: list[str]
) -> None:
    """Before: OSError (address already in use), a traceback and exit 1. The listener and
    ``import --metrics-port`` already said it in one line, exit 2."""
    env = orderflow_env(dsn, tmp_path, HEALTH_PORT=str(taken_port))
    for name in [k for k in env if k.startswith(("POLY_", "OTEL_"))]:
        del env[name]
    done = await run_orderflow_async(env, *command, timeout=60)
    assert done.returncode == 2, done.stderr
    _one_line(done.stderr, f"HEALTH_PORT={taken_port}")


def test_an_error_line_masks_a_secret_it_quotes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever raised the error, the one line on stderr holds no secret of the environment."""
    monkeypatch.setenv("POLY_API_SECRET", "c2VjcmV0LWFwaS1zZWNyZXQ=")
    monkeypatch.setenv("POLYGON_HTTP_URL", "https://polygon-mainnet.g.alchemy.com/v2/KEY0123456789")
    monkeypatch.setenv("LOG_FORMAT", "text")

    def fail(_: object) -> int:
        raise ConfigError(
            "node https://polygon-mainnet.g.alchemy.com/v2/KEY0123456789 refused"
            " c2VjcmV0LWFwaS1zZWNyZXQ="
        )

    from orderflow.cli import migrate as migrate_cli

    monkeypatch.setattr(migrate_cli, "run", fail)
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "KEY0123456789" not in err and "c2VjcmV0" not in err, err
    assert "orderflow: node https://polygon-mainnet.g.alchemy.com/v2/*** refused ***" in err
