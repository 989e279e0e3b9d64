"""Audit (6 Dec 2026): hostile arguments (negative, huge, not finite) are one line and exit 2
before any I/O, and an option a subcommand does not know is refused by that subcommand."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from orderflow.cli import main
from tests.reputation.builders import Ledger, wallet

WALLET = "0x204f72f35326db932158cba6adff0b9a1da95e14"


@pytest.fixture
def unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A DATABASE_URL whose socket directory holds no server: a command that gets as far as
    connecting fails with exit 1 (`cannot connect`), so exit 2 shows it refused its arguments
    first."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@/orderflow?host={tmp_path}/none")
    monkeypatch.setenv("LOG_FORMAT", "text")
    for name in ("LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def _refused(capsys: pytest.CaptureFixture[str], code: int, *words: str) -> str:
    """The one ``orderflow:`` line of a refusal with exit 2, holding ``words``."""
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err, err
    (line,) = err.splitlines()
    assert line.startswith("orderflow: "), line
    assert all(w in line for w in words), line
    return line


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("count", ["-3", "-1"])
def test_a_negative_history_count_is_refused(
    capsys: pytest.CaptureFixture[str], count: str
) -> None:
    """Before: read as 0 (`max(args.history, 0)`), the report shown without its history."""
    _refused(capsys, main(["wallet", WALLET, "--history", count]), "--history", count)


@pytest.mark.parametrize(
    "argv",
    [
        ["wallet", WALLET, "--bogus"],
        ["reputation", "run", "--bogus"],
        ["strategy", "list", "--bogus"],
        ["operator", "retire", "--bogus"],
        ["migrate", "--bogus"],
    ],
)
def test_an_unknown_option_is_refused_with_the_subcommands_usage(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Before: `usage: orderflow [-h] [--version] COMMAND ...` / `orderflow: error:
    unrecognized arguments: --bogus`, the top-level usage, which does not show the options."""
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    command = " ".join(w for w in argv if not w.startswith(("-", "0x")))
    assert err.startswith(f"usage: orderflow {command} [-h]"), err
    assert err.splitlines()[-1] == f"orderflow {command}: error: unrecognized arguments: --bogus"


async def test_a_huge_history_count_shows_them_all(
    pool: asyncpg.Pool,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before: `asyncpg.exceptions.DataError: invalid input for query argument $2:
    99999999999999999999999 (value out of int64 range)`, a traceback and exit 1."""
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", market_no=1, at=timedelta(hours=1))
    await led.flush(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    argv = ["wallet", wallet(1), "--history", "99999999999999999999999", "--json"]
    assert await asyncio.to_thread(main, argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["history"] == []


HUGE_UNIX = "99999999999999999999"


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["wallet", WALLET, "--as-of", HUGE_UNIX], ["not a timestamp", HUGE_UNIX]),
        (["reputation", "run", "--as-of", HUGE_UNIX], ["not a timestamp", HUGE_UNIX]),
        (["backtest", "--start", HUGE_UNIX], ["--start", HUGE_UNIX]),
        (["backtest", "--end", "9999-12-31T23:00:00-05:00"], ["--end", "9999-12-31"]),
    ],
)
def test_a_timestamp_out_of_range_is_refused(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    """Before: `OverflowError: timestamp out of range for platform time_t`, a traceback (and
    an ISO time whose UTC is past year 9999 was taken)."""
    _refused(capsys, main(argv), *words)


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["backtest", "--step", "99999999999999999999999w"], "--step"),
        (["backtest", "--step", "99999999d"], "--step"),
        (["backtest", "--latency", "99999999d"], "--latency"),
        (["backtest", "--book-window", "99999999999999999999d"], "--book-window"),
    ],
)
def test_a_duration_past_any_calendar_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str], argv: list[str], option: str
) -> None:
    """Before: accepted, then `OverflowError: date value out of range` (or `Python int too
    large to convert to C int`) from the walk-forward, a traceback and exit 1."""
    _refused(capsys, main(argv), option, "at most")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("value", ["inf", "1e999"])
def test_an_infinite_interval_is_refused(capsys: pytest.CaptureFixture[str], value: str) -> None:
    """Before: `--interval inf` ran once, then slept for ever (its readiness said fresh)."""
    _refused(capsys, main(["reputation", "run", "--interval", value]), "--interval")


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("variable", "argv"),
    [
        ("CALCULATION_INTERVAL_SECONDS", ["reputation", "run"]),
        ("EXECUTOR_POLL_INTERVAL_SECS", ["execute"]),
        ("SILENCE_TIMEOUT_SECS", ["listen", "--from-file", "x.jsonl"]),
    ],
)
def test_a_setting_that_is_not_finite_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    argv: list[str],
) -> None:
    """Before: `inf` was taken (`reputation run` went on to connect: exit 1 here)."""
    monkeypatch.setenv(variable, "inf")
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{variable}: Input should be a finite number" in err, err


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_a_retire_timeout_that_is_not_a_positive_number_is_refused(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """Before: taken as given; the retire went on to look for Kubernetes credentials (exit 1
    here), and would then wait for ever (nan) or give up at once (-1)."""
    _refused(capsys, main(["operator", "retire", f"--timeout={value}"]), "--timeout", value)


@pytest.mark.usefixtures("unreachable")
def test_too_many_decoding_workers_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `OverflowError: Python int too large to convert to C int` from a semaphore, a
    traceback and exit 1 (and up to that, a process per worker asked for)."""
    logs = tmp_path / "logs.jsonl"
    logs.write_text('{"address": "0x0"}\n', encoding="utf-8")
    argv = ["listen", "--from-file", str(logs), "--workers", "99999999999"]
    _refused(capsys, main(argv), "--workers", "99999999999")


def _simulate(tmp_path: Path, *extra: str, truth: str | None = None) -> list[str]:
    logs = tmp_path / "logs.jsonl"
    out = ["simulate", "--small", "--days", "1", "--out", str(logs)]
    return [*out, "--truth", truth or str(tmp_path / "truth.json"), *extra]


@pytest.mark.usefixtures("unreachable")
@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--seed", str(2**64)], "--seed"),
        (["--start-block", "99999999999999999999999"], "--start-block"),
        (["--start", "9999-12-31"], "--start"),
        (["--start", "0001-01-01"], "--start"),
    ],
)
def test_a_simulation_past_what_its_logs_can_hold_is_refused_before_it_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], option: str
) -> None:
    """Before: `OverflowError: int too big to convert` (the seed and block numbers are 8
    bytes), `ValueError: year 10000 is out of range` after the logs were written, tracebacks;
    a start in year 1 wrote blocks with negative unix times."""
    _refused(capsys, main(_simulate(tmp_path, *extra)), option)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("unreachable")
def test_a_failed_write_is_one_line_and_leaves_no_half_of_the_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full disk (/dev/full) under the truth file. Before: `OSError: [Errno 28] No space
    left on device`, a traceback, and the logs written whole beside no truth."""
    code = main(_simulate(tmp_path, truth="/dev/full"))
    err = capsys.readouterr().err
    assert code == 1, err
    said = "orderflow: --truth: cannot write /dev/full: No space left on device"
    assert err.splitlines() == [said]
    assert list(tmp_path.iterdir()) == []
