"""`orderflow wallet` given an address as the demo prints it (`0x1234abcd…`, the HTML report's
`0x1234abcd…9f3e`): the one scored wallet it shortens, or a refusal saying why. Before (until
7 Dec 2026, session 41) only the whole address was read: `not a wallet address:
'0xabcdef12…' (expected 0x + 40 hex digits)`, though the demo's console prints no other."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

from orderflow.cli import main
from tests.reputation.builders import Ledger, wallet

LONE = 0xABCDEF12 << 128  # 0xabcdef12 and 32 zeros: no other wallet opens so


@pytest.fixture
async def scored(pool: asyncpg.Pool, dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    led = Ledger()
    for who in (1, 2, LONE):  # wallets 1 and 2 share their first 39 digits
        led.trade(who, "BUY", "100", "0.40", market_no=1, at=timedelta(hours=1))
    await led.flush(pool)
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    monkeypatch.setenv("LOG_FORMAT", "text")
    assert await asyncio.to_thread(main, ["reputation", "run"]) == 0


async def _shown(given: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["wallet", given, "--json"])
    assert code == 0, capsys.readouterr().err
    return str(json.loads(capsys.readouterr().out)["wallet_address"])


@pytest.mark.usefixtures("scored")
@pytest.mark.parametrize(
    ("given", "who"),
    [
        ("0xABCDEF12…", LONE),  # the console's cut, any case
        ("0xabcdef1200...", LONE),  # three dots, more digits
        ("0xabcdef12", LONE),  # no ellipsis
        ("0x00000000…0002", 2),  # the HTML report's cut: first and last digits
        (wallet(1), 1),  # whole, as before
    ],
)
async def test_a_shortened_address_names_its_one_scored_wallet(
    capsys: pytest.CaptureFixture[str], given: str, who: int
) -> None:
    assert await _shown(given, capsys) == wallet(who)


@pytest.mark.usefixtures("scored")
@pytest.mark.parametrize(
    ("given", "words"),
    [
        (
            "0x00000000…",
            ["matches more than one scored wallet", wallet(1), wallet(2), "more digits"],
        ),
        ("0xdeadbeef…", ["no scored wallet matches", "whole address"]),
        ("0xabcdef12…0001", ["no scored wallet matches"]),  # the head matches, not the tail
        ("0xabcd…", ["not a wallet address", "8 or"]),  # too short to name one
        ("0x" + "a" * 41, ["not a wallet address"]),  # too long, and no ellipsis
        ("0xabcdef12…zz", ["not a wallet address"]),
    ],
)
async def test_a_shortened_address_that_names_none_or_several_is_refused(
    capsys: pytest.CaptureFixture[str], given: str, words: list[str]
) -> None:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["wallet", given]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    (line,) = err.splitlines()
    assert all(w in line for w in words), line
