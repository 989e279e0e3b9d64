"""`orderflow wallet` says which of a wallet's fills are archived instead of showing what is
attached as its whole record.

The per-wallet replay reads ``orderflow_trades``; a partition detached for archiving (`orderflow
db partitions detach`) takes its fills out of it, while the per-(wallet, token) sums, and so the
stored score and statistics, keep them. The command printed the replay of the attached fills
alone — one position of thirteen, its P&L — as the wallet's positions, with nothing saying any
were missing."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.cli import main
from tests.reputation.builders import T0, Ledger, wallet


async def cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


@pytest.fixture
async def archived(pool: asyncpg.Pool, dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Twelve markets traded in partition 1's blocks, one more three days later in partition
    2's; scored; then partition 1 detached."""
    led = Ledger()
    for m in range(1, 13):
        led.trade(1, "BUY", "100", "0.40", market_no=m, at=timedelta(hours=m))
        led.resolve(m, ["1", "0"] if m % 4 else ["0", "1"], timedelta(days=2))
    led.trade(1, "BUY", "10", "0.50", market_no=99, at=timedelta(days=3))
    async with pool.acquire() as conn:
        span = await partitions.span_blocks(conn)
        await partitions.ensure(conn, span, 3 * span - 1)
    led.trades = [
        (*t[:3], (span if t[5] < T0 + timedelta(days=1) else 2 * span) + t[3], *t[4:])
        for t in led.trades
    ]
    await led.flush(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert await cli("reputation", "run") == 0
    # a wallet whose one fill came after the run, in partition 1: never scored
    late = Ledger()
    late.trade(3, "BUY", "10", "0.40", market_no=1, at=timedelta(hours=20))
    late.trades = [(*t[:3], span + t[3], *t[4:]) for t in late.trades]
    await late.flush(pool)
    async with pool.acquire() as conn:
        await partitions.detach(conn, "1")
    return dsn


async def test_the_wallet_says_its_archived_fills_are_not_shown(
    archived: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert await cli("wallet", wallet(1)) == 0
    text = capsys.readouterr().out
    assert "positions as of" in text and ": 1 (realized" in text  # the attached fill's
    assert (
        "archived: 12 of the wallet's 13 fills are in partitions detached from orderflow_trades"
        in text
    ), text
    assert "fills before 2026-05-04 00:00:00+0000 are archived and not shown" in text, text

    assert await cli("wallet", wallet(1), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["positions"]) == 1
    assert data["archived"] == {
        "fills": 12,
        "stored_fills": 13,
        "before": "2026-05-04 00:00:00+00:00",
    }


async def test_a_wallet_whose_fills_are_all_attached_says_nothing_of_archives(
    archived: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another wallet, all of whose fills are in partition 2: nothing archived."""
    led = Ledger()
    led.trade(2, "BUY", "10", "0.50", market_no=98, at=timedelta(days=3))
    async with asyncpg.create_pool(archived, min_size=1, max_size=1) as pool:
        async with pool.acquire() as conn:
            span = await partitions.span_blocks(conn)
        led.trades = [(*t[:3], 2 * span + t[3], *t[4:]) for t in led.trades]
        await led.flush(pool)
    capsys.readouterr()
    assert await cli("wallet", wallet(2)) == 0
    assert "archived" not in capsys.readouterr().out
    assert await cli("wallet", wallet(2), "--json") == 0
    assert json.loads(capsys.readouterr().out)["archived"] is None


async def test_a_wallet_never_scored_whose_fills_are_all_archived_is_told_so(
    archived: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No score stored and nothing attached to replay: refused (a replay of nothing would
    score the neutral prior), saying its fill is archived rather than that none is stored."""
    capsys.readouterr()
    assert await cli("wallet", wallet(3)) == 2
    err = capsys.readouterr().err
    assert (
        "no attached fills for wallet 0x0000000000000000000000000000000000000003: 1 of the"
        " wallet's 1 fills are in partitions detached from orderflow_trades, fills before"
        " 2026-05-04 00:00:00+0000; attach them to replay (`orderflow db partitions`)"
    ) in err, err
