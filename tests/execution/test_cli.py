"""``orderflow strategy …`` and ``orderflow execute`` from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import pytest

from orderflow.cli import build_parser, main


def test_strategy_set_show_pause_kill_list(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "strategy",
                "set",
                "beta",
                "--set",
                "kelly_fraction=0.1",
                "--set",
                "maxOpenPositions=3",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["strategy", "show", "beta"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["kelly_fraction"] == 0.1
    assert shown["settings"]["max_open_positions"] == 3
    assert shown["paused"] is False and shown["killed"] is False
    # Changing one field keeps the others.
    assert main(["strategy", "set", "beta", "--set", "min_whale_score=8"]) == 0
    assert main(["strategy", "pause", "beta"]) == 0
    assert main(["strategy", "kill", "beta"]) == 0
    capsys.readouterr()
    assert main(["strategy", "show", "beta"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["kelly_fraction"] == 0.1 and shown["settings"]["min_whale_score"] == 8
    assert shown["paused"] is True and shown["killed"] is True and shown["generation"] == 4
    assert main(["strategy", "resume", "beta"]) == 0
    assert main(["strategy", "unkill", "beta"]) == 0
    capsys.readouterr()
    assert main(["strategy", "list"]) == 0
    assert capsys.readouterr().out.split("\t")[:3] == ["beta", "paper", "active"]


def test_strategy_from_env_and_errors(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAX_POSITION_USD", "250")
    monkeypatch.setenv("ENABLE_PAPER_TRADING", "false")
    assert main(["strategy", "set", "gamma", "--from-env"]) == 0
    capsys.readouterr()
    main(["strategy", "show", "gamma"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["settings"]["max_position_usd"] == 250 and shown["settings"]["mode"] == "live"
    assert main(["strategy", "set", "gamma", "--set", "kelly_fraction=3"]) == 2
    assert "kelly_fraction" in capsys.readouterr().err
    assert main(["strategy", "set", "gamma", "--set", "no_such=1"]) == 2
    assert "no_such" in capsys.readouterr().err
    assert main(["strategy", "set", "Bad_Name"]) == 2
    assert main(["strategy", "pause", "missing"]) == 2


@pytest.mark.parametrize(
    "assignment",
    ["no_such=1", "kelly_fraction=3", "novalue", "kellyFraction=lots"],
)
def test_set_reads_the_same_in_every_command(
    env: str, capsys: pytest.CaptureFixture[str], assignment: str
) -> None:
    """`--set KEY=VALUE` is one rule for `strategy set`, `backtest` and `demo`: the same bad
    assignment gets the same message (an unknown key read "Extra inputs are not permitted" in
    backtest and demo, "unknown strategy setting" in strategy set)."""
    errors = []
    for command in (["strategy", "set", "eta"], ["backtest"], ["demo"]):
        assert main([*command, "--set", assignment]) == 2
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1] == errors[2], errors
    if assignment == "no_such=1":
        assert "unknown strategy setting 'no_such' (see `strategy show`)" in errors[0]


def test_execute_refuses_live_mode_without_a_key(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENABLE_PAPER_TRADING", "false")
    monkeypatch.setenv("HEALTH_PORT", "0")
    assert main(["execute"]) == 2
    err = capsys.readouterr().err
    assert "POLY_PRIVATE_KEY" in err


def test_execute_names_the_stored_live_strategy_not_the_variable(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live strategy stored earlier (the first run's ENABLE_PAPER_TRADING=false, or `strategy
    set`) is live whatever the variable says now: the refusal named ENABLE_PAPER_TRADING=false
    with the variable unset, and not the strategy, nor how to make it paper."""
    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.delenv("ENABLE_PAPER_TRADING", raising=False)
    assert main(["strategy", "set", "lively", "--set", "mode=live"]) == 0
    capsys.readouterr()
    assert main(["execute"]) == 2
    err = capsys.readouterr().err
    assert "ENABLE_PAPER_TRADING=false" not in err
    assert "strategy 'lively' is in live mode" in err
    assert "orderflow strategy set lively --set mode=paper" in err


@pytest.mark.parametrize("command", [["execute"], ["strategy", "set", "delta", "--from-env"]])
def test_a_bad_strategy_variable_is_named(
    command: list[str],
    env: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bad value in the seed's variables stops the command with a message naming the variable
    (README "Configuration"), the same from both commands that read them: `execute`'s first start
    printed pydantic's raw dump (field name in lower case, a pydantic.dev link)."""
    monkeypatch.setenv("MAX_POSITION_USD", "abc")
    monkeypatch.setenv("HEALTH_PORT", "0")
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "MAX_POSITION_USD: Input should be a valid number" in err
    assert "pydantic.dev" not in err


async def test_execute_creates_the_env_strategy_and_heartbeats(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATEGY_NAME", "from-env")
    monkeypatch.setenv("KELLY_FRACTION", "0.2")
    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.setenv("EXECUTOR_HEARTBEAT_SECS", "0.2")
    args = build_parser().parse_args(["execute"])
    task = asyncio.create_task(args.handler(args))
    conn = await asyncpg.connect(env)
    try:
        for _ in range(300):
            row = await conn.fetchrow(
                "SELECT is_leader, strategies FROM orderflow_executor_heartbeats WHERE is_leader"
            )
            if row is not None:
                break
            await asyncio.sleep(0.05)
        assert row is not None and row["strategies"] == ["from-env"]
        settings = await conn.fetchval(
            "SELECT settings FROM orderflow_strategies WHERE name = 'from-env'"
        )
        assert json.loads(settings)["kelly_fraction"] == 0.2
    finally:
        await conn.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_strategy_cli_respects_resources_that_own_a_strategy(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row written by the operator is the resource's: the CLI may stop it, not rewrite it."""

    async def adopt() -> None:
        conn = await asyncpg.connect(env)
        try:
            await conn.execute(
                "UPDATE orderflow_strategies SET source = 'k8s:trading/whales'"
                " WHERE name = 'whales'"
            )
        finally:
            await conn.close()

    assert main(["strategy", "set", "whales"]) == 0
    asyncio.run(adopt())
    capsys.readouterr()
    assert main(["strategy", "set", "whales", "--set", "kelly_fraction=0.1"]) == 2
    assert "trading/whales" in capsys.readouterr().err
    assert main(["strategy", "kill", "whales"]) == 0
    assert "spec.killed=true" in capsys.readouterr().out
    assert main(["strategy", "unkill", "whales"]) == 2
    assert main(["strategy", "set", "whales", "--force", "--set", "kelly_fraction=0.1"]) == 0
    capsys.readouterr()
    main(["strategy", "show", "whales"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["killed"] is True and shown["settings"]["kelly_fraction"] == 0.1


async def test_execute_names_strategies_asked_for_that_are_not_stored(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`execute --strategy nosuch` ran and traded nothing without a word (its filter matched no
    stored strategy). Not refused — an operator may create the strategy after the executor
    starts, and the executor picks it up — but the run says which are missing."""
    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.setenv("EXECUTOR_HEARTBEAT_SECS", "0.2")
    args = build_parser().parse_args(["execute", "--strategy", "nosuch", "--strategy", "default"])
    task = asyncio.create_task(args.handler(args))
    conn = await asyncpg.connect(env)
    try:
        for _ in range(300):
            if await conn.fetchval("SELECT count(*) FROM orderflow_executor_heartbeats"):
                break
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    lines = [line for line in capsys.readouterr().err.splitlines() if "not in the database" in line]
    assert len(lines) == 1 and "nosuch" in lines[0] and "default" in lines[0], lines
