"""A stop set from the command line on a strategy a TradingStrategy owns holds against the
resource: the operator's next reconcile (a spec change, its restart's resume) keeps it, until the
resource itself takes the stop over (``spec.killed: true``) and then releases it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from orderflow import db
from orderflow.cli import main
from orderflow_operator.reconcile import Result, Target, reconcile

WHALE = Target("trading", "whale")


def reconciled(dsn: str, spec: dict[str, Any], generation: int) -> Result:
    async def go() -> Result:
        pool = await db.create_pool(dsn, min_size=1, max_size=2)
        try:
            return await reconcile(
                pool, WHALE, spec, generation=generation, previous_status={}, stale_after_secs=30
            )
        finally:
            await pool.close()

    return asyncio.run(go())


def switches(dsn: str) -> tuple[bool, bool]:
    async def go() -> tuple[bool, bool]:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow(
                "SELECT paused, killed FROM orderflow_strategies WHERE name = 'whale'"
            )
        finally:
            await conn.close()
        assert row is not None
        return row["paused"], row["killed"]

    return asyncio.run(go())


def cond(result: Result, kind: str) -> tuple[str, str]:
    c = next(c for c in result.status["conditions"] if c["type"] == kind)
    return c["status"], c["reason"]


@pytest.mark.parametrize(("stop", "flag", "state"), [("kill", "killed", "Killed"),
                                                     ("pause", "paused", "Paused")])  # fmt: skip
def test_a_stop_from_the_cli_outlives_the_resource_s_reconciles(
    env: str, capsys: pytest.CaptureFixture[str], stop: str, flag: str, state: str
) -> None:
    at = 0 if flag == "paused" else 1  # its place in switches()
    reconciled(env, {}, 1)
    assert main(["strategy", stop, "whale"]) == 0
    assert "holds" in capsys.readouterr().out
    assert main(["strategy", "show", "whale"]) == 0
    assert json.loads(capsys.readouterr().out)["held"] == [flag]
    # an unrelated change of the resource, then the operator's restart (resume, same spec)
    for generation, spec in ((2, {"maxFadeScore": 3}), (2, {"maxFadeScore": 3})):
        result = reconciled(env, spec, generation)
        assert switches(env)[at] is True
        assert result.status["state"] == state
        assert cond(result, state) == ("True", f"{state}OutsideResource")
    assert "HeldOutsideResource" in [e.reason for e in result.events]
    # releasing it from the command line is refused: the resource says when trading resumes
    release = "unkill" if stop == "kill" else "resume"
    assert main(["strategy", release, "whale"]) == 2
    assert f"spec.{flag}=true" in capsys.readouterr().err
    # the resource takes the stop over, then lets go
    result = reconciled(env, {"maxFadeScore": 3, flag: True}, 3)
    assert cond(result, state) == ("True", f"{state}BySpec")
    reconciled(env, {"maxFadeScore": 3, flag: False}, 4)
    assert switches(env) == (False, False)
    assert main(["strategy", "show", "whale"]) == 0
    assert json.loads(capsys.readouterr().out)["held"] == []


def test_a_stop_on_a_strategy_of_the_cli_needs_no_hold(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["strategy", "set", "mine"]) == 0
    assert main(["strategy", "kill", "mine"]) == 0
    assert "holds" not in capsys.readouterr().out
    assert main(["strategy", "unkill", "mine"]) == 0
