"""`orderflow reputation run` and `orderflow wallet` end to end (in-process, real database)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from orderflow.cli import main
from tests.reputation.builders import Ledger, wallet


@pytest.fixture
async def seeded(pool: asyncpg.Pool, dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    led = Ledger()
    for m in range(1, 13):
        led.trade(1, "BUY", "100", "0.40", market_no=m, at=timedelta(hours=m))
        led.resolve(m, ["1", "0"] if m % 4 else ["0", "1"], timedelta(days=2))
    led.trade(1, "BUY", "10", "0.50", market_no=99, at=timedelta(days=3))
    await led.flush(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return dsn


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_run_once_then_explain(
    seeded: str, pool: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await cli("reputation", "run") == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["wallets"] == 1 and summary["history_rows"] == 1

    assert await cli("wallet", wallet(1).upper().replace("0X", "0x")) == 0
    text = capsys.readouterr().out
    for needle in (
        "tier",
        "win_rate",
        "profit_factor",
        "consistency",
        "volume",
        "timing",
        "resolved_positions",
        "RESOLVED payout 1",
        "OPEN mark",
        "score history",
        "P(edge > cost 0.002)",
        # its fills are all maker rows (resting orders others crossed): flagged, with the figure
        "behaviour flags: MARKET_MAKER",
        "MARKET_MAKER  maker_volume_share=1",
    ):
        assert needle in text, text

    assert await cli("wallet", wallet(1), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["wins"] == 9 and len(data["positions"]) == 13
    assert data["live"]["score"] == float(data["stats"]["reputation_score"])
    assert data["stats"]["flags"] == ["MARKET_MAKER"] and data["live"]["flags"] == ["MARKET_MAKER"]
    assert data["stats"]["events_resolved"] == 0  # no taker decision: no evidence of skill
    # the factors JSON built when read (migration 020), its storage columns not shown
    assert data["stats"]["factors"]["flags"] == ["MARKET_MAKER"]
    assert data["stats"]["factors"]["behaviour"]["maker_volume_share"] == 1
    assert not {"factors_stored", "factor_figures", "factor_volume_usdc"} & set(data["stats"])


async def test_run_as_of(seeded: str, pool: asyncpg.Pool) -> None:
    assert await cli("reputation", "run", "--as-of", "2026-05-01T06:30:00Z") == 0
    row = await pool.fetchrow(
        "SELECT total_trades, resolved_positions, computed_at FROM orderflow_wallet_stats"
    )
    assert row is not None
    assert (row["total_trades"], row["resolved_positions"]) == (6, 0)


async def test_bad_arguments(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("wallet", "0x123") == 2
    assert await cli("reputation", "run", "--interval", "5", "--as-of", "1700000000") == 2
    assert await cli("reputation", "run", "--as-of", "yesterday") == 2
    assert "not a timestamp" in capsys.readouterr().err


async def test_interval_loop_runs_until_cancelled(
    seeded: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.cli import reputation as cmd

    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.setenv("CALCULATION_INTERVAL_SECONDS", "0.05")
    import argparse

    args = argparse.Namespace(interval=-1.0, as_of=None, log_format="text")
    task = asyncio.create_task(cmd.run(args))
    for _ in range(200):
        if await pool.fetchval(
            "SELECT count(*) FROM orderflow_wallet_stats WHERE computed_at IS NOT NULL"
        ):
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pool.fetchval("SELECT reputation_score FROM orderflow_wallet_stats") is not None
