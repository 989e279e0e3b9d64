"""A strategy name is a DNS label (lower-case letters, digits, inner dashes; at most 63
characters: what a TradingStrategy's name must be for the operator) wherever it enters: the
``orderflow`` command's arguments, the executor's settings, the database's CHECK, the CRD. The
operator's peering priority is a 64-bit integer (what the peering object stores exactly).

Before 6 Dec 2026 only the operator counted the characters: ``orderflow strategy set`` stored a
300-character name (the column's CHECK held the alphabet alone), ``STRATEGY_NAME`` and
``EXECUTOR_STRATEGIES`` were not checked at all, and ``--priority 2**64`` was taken. Each was
refused only by the database (exit 1 after connecting) or not at all; now each is one line, exit 2,
before any I/O.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.cli import main
from orderflow.strategy.names import STRATEGY_NAME
from orderflow_operator import crd
from orderflow_operator.spec import SpecProblem, parse_spec

LONG = "a" * 64  # a DNS label is at most 63 characters
TOO_BIG = str(2**63)  # one past the largest 64-bit integer


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DATABASE_URL whose socket directory holds no server: a command that got as far as
    connecting fails with exit 1 (`cannot connect`), so exit 2 shows it refused first."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@/orderflow?host={tmp_path}/none")
    monkeypatch.setenv("LOG_FORMAT", "text")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    for name in ("LOG_LEVEL", "OPERATOR_PRIORITY", "STRATEGY_NAME", "EXECUTOR_STRATEGIES"):
        monkeypatch.delenv(name, raising=False)


def _refused(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> None:
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    assert err.startswith("orderflow: "), err
    assert all(w in err for w in words), err
    assert len(err) < 400, err  # the name shortened, not echoed whole


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["strategy", "set", LONG], "63"),
        (["strategy", "set", "a" * 300], "63"),
        (["execute", "--strategy", LONG], "--strategy"),
        (["operator", "--priority", TOO_BIG], "--priority"),
        (["operator", "--priority", f"-{TOO_BIG}1"], "--priority"),
    ],
)
def test_an_out_of_range_argument_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], named: str
) -> None:
    _refused(capsys, main(argv), named)


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("variable", "value", "argv"),
    [
        ("STRATEGY_NAME", LONG, ["execute"]),
        ("STRATEGY_NAME", "Default", ["execute"]),
        ("EXECUTOR_STRATEGIES", f"default,{LONG}", ["execute"]),
        ("OPERATOR_PRIORITY", TOO_BIG, ["operator"]),
    ],
)
def test_an_out_of_range_setting_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    argv: list[str],
) -> None:
    monkeypatch.setenv(variable, value)
    _refused(capsys, main(argv), "invalid settings", variable)


async def test_the_database_refuses_a_name_longer_than_a_dns_label(pool: asyncpg.Pool) -> None:
    insert = "INSERT INTO orderflow_strategies (name, settings) VALUES ($1, '{}'::jsonb)"
    await pool.execute(insert, "a" * 63)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(insert, LONG)


def test_the_crd_refuses_a_name_longer_than_a_dns_label() -> None:
    """The API server checks a TradingStrategy's name as a DNS subdomain (253 characters); the
    CRD's own rule holds it to the executor's (63)."""
    schema = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    (rule,) = schema["x-kubernetes-validations"]
    assert rule["rule"].startswith("self.metadata.name.size() <= 63 && "), rule
    assert f"self.metadata.name.matches('{STRATEGY_NAME.pattern}')" in rule["rule"], rule


def test_the_operator_refuses_a_long_name() -> None:
    """Control (passed before the change): the operator counted the characters."""
    problem = parse_spec(LONG, {})
    assert isinstance(problem, SpecProblem) and problem.reason == "InvalidName"


async def test_a_long_name_stored_before_can_still_be_killed(
    dsn: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control (passes before the change too): a name that stops a stored strategy is looked up
    whatever its length, so a row stored before the limit (the trigger off, as it was not there)
    can be killed; only a new name is held to 63 characters."""
    await pool.execute("ALTER TABLE orderflow_strategies DISABLE TRIGGER USER")
    await pool.execute(
        "INSERT INTO orderflow_strategies (name, settings) VALUES ($1, '{}'::jsonb)", LONG
    )
    await pool.execute("ALTER TABLE orderflow_strategies ENABLE TRIGGER USER")
    monkeypatch.setenv("DATABASE_URL", dsn)
    import asyncio

    assert await asyncio.to_thread(main, ["strategy", "kill", LONG]) == 0
    assert await pool.fetchval("SELECT killed FROM orderflow_strategies WHERE name = $1", LONG)
