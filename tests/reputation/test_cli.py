"""`orderflow reputation run` and `orderflow wallet` end to end (in-process, real database)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from orderflow.cli import main
from orderflow.reputation import compute_scores
from tests.reputation.builders import T0, Ledger, wallet


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
    # a look at the past: its history rows, stamped T; the stored row is left unscored
    row = await pool.fetchrow(
        "SELECT resolved_positions, computed_at FROM orderflow_reputation_history"
    )
    assert row is not None
    assert (row["resolved_positions"], row["computed_at"].isoformat()) == (
        0,
        "2026-05-01T06:30:00+00:00",
    )
    assert await pool.fetchval("SELECT computed_at FROM orderflow_wallet_stats") is None


async def test_bad_arguments(seeded: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await cli("wallet", "0x123") == 2
    assert await cli("reputation", "run", "--interval", "5", "--as-of", "1700000000") == 2
    assert await cli("reputation", "run", "--as-of", "yesterday") == 2
    assert "not a timestamp" in capsys.readouterr().err
    assert await cli("reputation", "run", "--as-of", "2100-01-01T00:00:00Z") == 2
    assert "orderflow: --as-of 2100-01-01T00:00:00+00:00 is after the database clock" in (
        capsys.readouterr().err
    )


async def test_wallet_without_fills_gets_no_score(
    seeded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A well-formed address with no stored fill (a typo, another chain's wallet) is told so,
    not shown a score: the replay of nothing scored it NOVICE 4.25 against a neutral prior."""
    assert await cli("reputation", "run") == 0
    capsys.readouterr()
    nobody = wallet(2)
    for extra in ([], ["--json"], ["--as-of", "2026-05-01T06:30:00Z"]):
        assert await cli("wallet", nobody, *extra) == 2
        out = capsys.readouterr()
        assert out.out == ""
        assert f"no fills stored for wallet {nobody}" in out.err
    assert await cli("wallet", wallet(1), "--as-of", "2026-04-01T00:00:00Z") == 2  # before any
    assert "before 2026-04-01" in capsys.readouterr().err


async def test_interval_loop_runs_until_cancelled(
    seeded: str, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.cli import reputation as cmd

    monkeypatch.setenv("HEALTH_PORT", "0")
    monkeypatch.setenv("CALCULATION_INTERVAL_SECONDS", "0.05")
    from orderflow.cli import build_parser

    args = build_parser("reputation").parse_args(["reputation", "run", "--interval"])
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


async def test_wallet_as_of_is_scored_against_the_population_then(
    pool: asyncpg.Pool,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``orderflow wallet W --as-of T`` scores W's record at T against the population prior at
    T, as ``compute_scores(as_of=T)`` does -- not against the last run's prior, which knows the
    losers whose markets resolved after T (it made the same record look better than it was)."""
    led = Ledger()
    markets = iter(range(1, 1000))

    def buy(who: int, price: str, at: timedelta, won: bool, resolved: timedelta) -> None:
        m = next(markets)
        led.trade(who, "BUY", "100", price, market_no=m, at=at, taker_aggregate=True)
        led.resolve(m, ["1", "0"] if won else ["0", "1"], resolved)

    for who in range(1, 13):  # before T: takers with no edge, half their markets won
        for k in range(4):
            buy(who, "0.50", timedelta(hours=4 * who + k), (who + k) % 2 == 1, timedelta(days=5))
    for k in range(6):  # the wallet asked about: four winners in six at 0.40, before T
        buy(100, "0.40", timedelta(days=1, hours=k), k % 3 != 0, timedelta(days=5))
    for who in range(200, 230):  # after T: takers who lose everything
        for k in range(4):
            buy(who, "0.60", timedelta(days=12, hours=k), False, timedelta(days=15))
    await led.flush(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert await cli("reputation", "run") == 0  # the stored rows: as of now
    as_of = T0 + timedelta(days=10)
    then = (await compute_scores(pool, as_of=as_of))[wallet(100)]
    now = (await compute_scores(pool))[wallet(100)]
    assert now.factors["posterior"]["prior_mean"] != then.factors["posterior"]["prior_mean"]
    capsys.readouterr()

    assert await cli("wallet", wallet(100), "--as-of", as_of.isoformat(), "--json") == 0
    live = json.loads(capsys.readouterr().out)["live"]
    assert live["posterior"]["prior_mean"] == pytest.approx(then.factors["posterior"]["prior_mean"])
    # the last run's prior read this record as a sure loser: edge -0.78, P(edge > cost) 0
    assert live["posterior"]["edge"] == pytest.approx(then.edge, abs=1e-6)
    assert live["posterior"]["p_edge_above_cost"] == pytest.approx(then.p_edge_above_cost)
    assert live["score"] == pytest.approx(float(then.score), abs=0.01)
    assert live["tier"] == then.tier

    # The text shows the same as-of score, not the last run's (it printed the stored row's score,
    # posterior and factors above the as-of positions).
    assert await cli("wallet", wallet(100), "--as-of", as_of.isoformat()) == 0
    text = capsys.readouterr().out
    assert f"score {then.score:.2f} / 10   tier {then.tier}   as of {as_of:%Y-%m-%d}" in text
    assert f"posterior {then.edge:.4g} " in text  # the last run's: -0.7762
    assert f"posterior {now.edge:.4g} " not in text and "statistics (last run)" not in text
    # the follower's cost the posterior is judged against is named, as in a stored row's text
    assert "P(edge > cost -)" not in text and "P(edge > cost 0.0" in text


@pytest.mark.parametrize("value", ["0", "-5"])
def test_an_interval_that_is_not_positive_is_refused(dsn: str, tmp_path: Path, value: str) -> None:
    """`--interval 0` (or a negative one) looped every CALCULATION_INTERVAL_SECONDS (an hour)
    without a word: the help says it repeats every SECONDS. A subprocess, as the loop never ends
    on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    env.update(DATABASE_URL=dsn, ORDERFLOW_DATA_DIR=str(tmp_path), LOG_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, "-m", "orderflow", "reputation", "run", "--interval", value],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "--interval: must be positive" in done.stderr
