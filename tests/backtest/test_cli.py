"""``orderflow backtest`` from the command line: a report on stored history, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from orderflow.cli import main
from tests.backtest.factory import History, addr

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--step", "0"], "--step"),
        (["--step", "soon"], "--step"),
        (["--start", "nope"], "--start"),
        (["--start", "2026-05-02T00:00:00Z", "--end", "2026-05-01T00:00:00Z"], "--start/--end"),
        (["--random-share", "1.5"], "--random-share"),
        (["--baseline-stake", "lots"], "--baseline-stake"),
        (["--baseline-stake", "-5"], "--baseline-stake"),
        (["--set", "kelly_fraction=3"], "kelly_fraction"),
        (["--set", "no_such_setting=1"], "no_such_setting"),
        (["--set", "novalue"], "--set"),
        (["--truth", "/nonexistent/truth.json"], "--truth"),
        (["--json", "/nonexistent/summary.json"], "--json"),  # refused before the run
        (["--latency", "later"], "--latency"),
        (["--book-window", "0"], "--book-window"),
        (["--visibility", "soon"], "--visibility"),
        (["--visibility", "-1"], "--visibility"),
    ],
)
def test_bad_arguments_exit_2_naming_them(
    capsys: pytest.CaptureFixture[str], args: list[str], named: str
) -> None:
    assert main(["backtest", *args]) == 2
    assert named in capsys.readouterr().err


async def test_backtest_command_reports_and_writes_json(
    dsn: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", dsn)
    h = History()
    market = h.market("m")
    for i in range(5):
        h.trade(addr(f"w{i}"), market, i % 2, "BUY", "0.50", "300", T0 + timedelta(hours=i))
        h.ask(market, i % 2, "0.50", "1000", T0 + timedelta(hours=i, minutes=1))
    h.resolve(market, 0, T0 + timedelta(days=1))
    await h.store(pool)
    out = tmp_path / "summary.json"
    import asyncio

    code = await asyncio.to_thread(
        main, ["backtest", "--step", "12h", "--random-share", "0.5", "--json", str(out)]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "follow-all" in text and "Verdict: INCONCLUSIVE" in text  # two markets: no interval
    # Durations read as the rest of the report's ("12 h"), not a raw timedelta ("12:00:00").
    assert ": 1 step of 12 h, " in text, text
    assert "8.008 s after their leader" in text, text
    summaries = json.loads(out.read_text())
    assert [s["name"] for s in summaries] == ["strategy", "follow-all", "follow-random"]
    assert summaries[1]["executed"] == 1  # one position per market: YES, then NO is refused
    assert summaries[1]["verdict"]["verdict"] == "INCONCLUSIVE"
    assert summaries[1]["verdict"]["markets"] == 1 and summaries[1]["verdict"]["ci_low"] is None
    assert summaries[1]["verdict"]["clusters"] is None  # no interval: no degrees of freedom


async def test_backtest_on_an_empty_database_says_so(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", dsn)
    import asyncio

    assert await asyncio.to_thread(main, ["backtest"]) == 1
    out = capsys.readouterr()
    # On stderr, as every failure (`backtest > report.txt` wrote it into the report, exit 1).
    assert out.out == ""
    assert "orderflow: no stored trades in that period: nothing to backtest" in out.err
    assert "`orderflow import`" in out.err


async def test_unknown_stored_strategy_is_an_error(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", dsn)
    import asyncio

    assert await asyncio.to_thread(main, ["backtest", "--strategy", "ghost"]) == 2
    assert "--strategy" in capsys.readouterr().err


async def test_stored_strategy_settings_are_used_with_overrides(
    dsn: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", dsn)
    h = History()
    market = h.market("m")
    h.trade(addr("w"), market, 0, "BUY", "0.50", "300", T0)
    await h.store(pool)
    await pool.execute(
        "INSERT INTO orderflow_strategies (name, settings) VALUES ('camel', $1)",
        {"kellyFraction": 0.5, "maxOpenPositions": 7},
    )
    out = tmp_path / "s.json"
    import asyncio

    args = ["backtest", "--strategy", "camel", "--set", "min_trigger_usd=1000", "--json", str(out)]
    assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
    # min_trigger_usd=1000 filters the 150 USDC fill for every follower.
    assert [s["signals"] for s in json.loads(out.read_text())] == [0, 0, 0]


async def test_json_is_written_before_the_report_into_a_closed_pipe(
    dsn: str,
    pool: asyncpg.Pool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`orderflow backtest --json out.json | head -1`: the report was printed first, so once head
    closed the pipe the command ended (141) with --json never written."""
    import asyncio
    import os
    import sys

    monkeypatch.setenv("DATABASE_URL", dsn)
    h = History()
    market = h.market("m")
    h.trade(addr("w"), market, 0, "BUY", "0.50", "300", T0)
    h.ask(market, 0, "0.50", "1000", T0 + timedelta(minutes=1))
    await h.store(pool)
    out = tmp_path / "summary.json"
    read, write = os.pipe()
    os.close(read)  # the reader is gone
    with capsys.disabled(), open(write, "w", buffering=1) as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        code = await asyncio.to_thread(main, ["backtest", "--json", str(out)])
    assert code == 141
    assert out.exists(), "--json was not written"
    assert [s["name"] for s in json.loads(out.read_text())] == [
        "strategy",
        "follow-all",
        "follow-random",
    ]


@pytest.mark.parametrize(
    ("args", "stored"),
    [([], "7 s"), (["--visibility", "2s"], "2 s"), (["--visibility", "0"], "0 s")],
)
async def test_visibility_is_an_option(
    dsn: str,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    stored: str,
) -> None:
    """``--visibility``: how long after its block a fill is stored and known to a decision
    (``BacktestOptions.visibility_secs``; default the listener's, 7 s). The command had no
    option for it (until 6 Dec 2026): only the Python API could set it."""
    import asyncio

    monkeypatch.setenv("DATABASE_URL", dsn)
    h = History()
    market = h.market("m")
    h.trade(addr("w"), market, 0, "BUY", "0.50", "300", T0)
    await h.store(pool)
    code = await asyncio.to_thread(main, ["backtest", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"decided on the fills stored {stored} after their block" in out.out, out.out


async def test_a_full_disk_under_json_is_one_line_and_exit_1(
    dsn: str,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--json`` is written as the other commands' outputs are (``write_outputs``: all or
    nothing, a failed write one line). Before: `OSError: [Errno 28] No space left on device`, a
    traceback."""
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_FORMAT", "text")
    h = History()
    market = h.market("m")
    h.trade(addr("w"), market, 0, "BUY", "0.50", "300", T0)
    h.resolve(market, 0, T0 + timedelta(days=1))
    await h.store(pool)
    import asyncio

    code = await asyncio.to_thread(main, ["backtest", "--step", "12h", "--json", "/dev/full"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.splitlines() == [
        "orderflow: --json: cannot write /dev/full: No space left on device"
    ]


async def test_an_end_far_past_the_data_replays_only_as_far_as_the_data(
    dsn: str,
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--end`` 100 days past the last trade and resolution: the replay stops where the data
    does (nothing can happen after it) and says so. Before: 200 steps of 12 h, each scoring every
    wallet over an empty step (`: 200 steps of 12 h`), for the same figures."""
    monkeypatch.setenv("DATABASE_URL", dsn)
    h = History()
    market = h.market("m")
    for i in range(3):
        h.trade(addr(f"w{i}"), market, 0, "BUY", "0.50", "300", T0 + timedelta(hours=i))
        h.ask(market, 0, "0.50", "1000", T0 + timedelta(hours=i, minutes=1))
    h.resolve(market, 0, T0 + timedelta(days=1))
    await h.store(pool)
    import asyncio

    far = (T0 + timedelta(days=100)).isoformat()
    code = await asyncio.to_thread(main, ["backtest", "--step", "12h", "--end", far])
    text = capsys.readouterr().out
    assert code == 0, text
    head = text.splitlines()[0]
    assert ": 3 steps of 12 h, 6 fills, 1 resolutions;" in head, head
    assert f"--end {far} is past the stored data: replayed until " in text, text
