"""``orderflow wallet`` names whom a wallet copies: each leader it trails in enough tokens, the
COPIER test's figures as the run judged them (the level shared among the leaders tried), and
the leader's tier -- a COPIER's leader in the top tiers is the wallet to follow instead."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from orderflow.cli import main
from orderflow.reputation import ReputationSettings, run_reputation
from orderflow.reputation.flags import sign_test
from tests.reputation.test_copiers import TOP, _world, list_world


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_the_wallet_command_names_the_leader_a_copier_trails(
    pool: asyncpg.Pool,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, leader, copier, first, second, _ = _world(seed=81)
    await w.finish(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    capsys.readouterr()
    assert await cli("reputation", "run") == 0  # a full run
    assert await cli("reputation", "run") == 0  # an incremental one, which keeps the pairs
    capsys.readouterr()
    assert await cli("wallet", copier, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["stats"]["flags"] == ["COPIER"]
    copying = out["copying"]
    top = copying[0]
    assert top["leader"] == leader and top["copies"], copying
    assert top["leader_tier"] in TOP and top["leader_flags"] == [], top
    assert top["trail"] >= 20 and top["markets"] >= 20 and top["trail"] > top["buys"] / 2, top
    assert top["p"] == sign_test(top["trail"], top["trail"] + top["lead"])
    assert top["level"] == ReputationSettings().copy_alpha / len(copying)
    # every other wallet it trails in five tokens or more is tried, and none is copied
    assert all(not c["copies"] for c in copying[1:]), copying
    assert await cli("wallet", copier) == 0
    text = capsys.readouterr().out
    assert f"  {leader} ({top['leader_tier']}): trails {top['trail']}, leads" in text, text
    assert "copies it" in text
    # the leader's side: copied by the copier, and by nobody else
    assert await cli("wallet", leader, "--json") == 0
    by = json.loads(capsys.readouterr().out)["copied_by"]
    assert [(c["wallet"], c["flags"], c["trail"]) for c in by] == [
        (copier, ["COPIER"], top["trail"])
    ], by
    assert await cli("wallet", leader) == 0
    text = capsys.readouterr().out
    assert "copied by 1 wallet (the COPIER rule" in text and f"  {copier} (" in text, text

    # two skilled wallets on the same tokens, either one first: tried, not copies
    for a, b in ((first, second), (second, first)):
        assert await cli("wallet", a, "--json") == 0
        rows = json.loads(capsys.readouterr().out)["copying"]
        assert [c["copies"] for c in rows if c["leader"] == b] in ([], [False]), rows
        assert not any(c["copies"] for c in rows), rows
    for a in (first, second):
        assert await cli("wallet", a, "--json") == 0
        assert json.loads(capsys.readouterr().out)["copied_by"] == []
    # a replay as of a past time does not show the last run's pairs
    assert await cli("wallet", copier, "--json", "--as-of", "2100-01-01T00:00:00Z") == 0
    assert json.loads(capsys.readouterr().out)["copying"] is None


async def test_without_kept_pairs_the_wallet_command_says_so(
    pool: asyncpg.Pool,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    w, _, copier, *_ = _world(seed=81)
    await w.finish(pool)
    await run_reputation(pool)  # a full run: no pairs kept

    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    capsys.readouterr()
    assert await cli("wallet", copier) == 0
    assert "copying: no lead-lag pairs kept for it yet" in capsys.readouterr().out


async def test_a_list_s_leaders_are_each_named(
    pool: asyncpg.Pool,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bot copying four wallets in turn: each leader named and copied, a quarter of its buys
    each, all of them together."""
    w, leaders, bot = list_world()
    await w.finish(pool)
    await run_reputation(pool)
    await run_reputation(pool)  # the incremental run keeps the pairs
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    capsys.readouterr()
    assert await cli("wallet", bot, "--json") == 0
    copying = json.loads(capsys.readouterr().out)["copying"]
    named = {c["leader"]: c for c in copying if c["copies"]}
    assert sorted(named) == sorted(leaders), copying
    assert all(c["trail"] < c["buys"] / 2 for c in named.values()), copying
    assert await cli("wallet", bot) == 0
    assert "those passing trail 80 of its 80 taker buys together" in capsys.readouterr().out
    for a in leaders:  # each leader copied by the bot
        assert await cli("wallet", a, "--json") == 0
        by = json.loads(capsys.readouterr().out)["copied_by"]
        assert [c["wallet"] for c in by] == [bot], by
