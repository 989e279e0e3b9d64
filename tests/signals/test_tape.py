"""A quote held to the tape price (:func:`orderflow.signals.tape.held_to_tape`); the tape
price's SQL and its in-memory form (:class:`orderflow.signals.tape.TokenPrints`) agree."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest.history import stream_trades
from orderflow.backtest.tape import Tape
from orderflow.signals.tape import TAPE_PRINTS, held_to_tape, tape_price
from tests.backtest.factory import History, addr, token_of

D = Decimal


@pytest.mark.parametrize(
    ("quote", "tape", "held"),
    [
        (D("0.47"), D("0.50"), D("0.47")),  # an honest spread: left as it is
        (D("0.40"), D("0.50"), D("0.40")),  # 0.10 away: still the quote
        (D("0.39"), D("0.50"), D("0.50")),  # further: one pair's print, the tape
        (D("0.61"), D("0.50"), D("0.50")),
        (D("0.05"), D("0.08"), D("0.05")),  # near 0 the band is half-way to 0 (0.04)
        (D("0.01"), D("0.08"), D("0.08")),
        (D("0.99"), D("0.95"), D("0.95")),  # near 1, half-way to 1 (0.025)
        (D("0.97"), D("0.95"), D("0.97")),
        (None, D("0.50"), None),  # no level seen: no price, whatever the tape
        (D("0.30"), None, D("0.30")),  # no tape: the quote
    ],
)
def test_held_to_tape(quote: Decimal | None, tape: Decimal | None, held: Decimal | None) -> None:
    assert held_to_tape(quote, tape) == held


# The SQL rule and its in-memory form (the backtest's tape) on the same stored prints.
T0 = datetime(2026, 5, 1, 22, tzinfo=UTC)
_TAPE = f"SELECT {tape_price('$1::numeric')}"
_BEFORE = f"SELECT {tape_price('$1::numeric', before='$2::timestamptz')}"
_SINCE = f"SELECT {tape_price('$1::numeric', since='$2::timestamptz', last=False)}"


def _world(seed: int) -> tuple[History, str, list[datetime]]:
    """Random prints of a market's two tokens across a midnight: maker rows of a few wallets
    (a pair may print often, in a row, on both tokens), taker rows between them, several in
    one second; in every third world one pair then prints alone more than TAPE_PRINTS times."""
    rng = random.Random(seed)
    h = History()
    market = h.market(f"world {seed}")
    wallets = [addr(f"w{seed}-{i}") for i in range(rng.randint(2, 7))]
    at, times = T0, []
    for _ in range(rng.choice((12, 60, 260))):
        at += timedelta(seconds=rng.choice((0, 0, 1, 90, 900)))
        outcome, price = rng.randint(0, 1), f"{rng.randint(1, 99) / 100:.2f}"
        maker, taker = rng.sample(wallets, 2) if rng.random() < 0.8 else wallets[:2]
        side = rng.choice(("BUY", "SELL"))
        if rng.random() < 0.2:
            h.trade(taker, market, outcome, side, price, "10", at)
        else:
            h.trade(maker, market, outcome, side, price, "10", at, taker=False, taker_address=taker)
        times.append(at)
    if seed % 3 == 2:  # then one pair alone prints more than TAPE_PRINTS times
        for _ in range(TAPE_PRINTS + 10):
            at += timedelta(seconds=rng.choice((0, 1)))
            h.trade(wallets[0], market, 0, "SELL", "0.04", "10", at, taker=False,
                    taker_address=wallets[1])  # fmt: skip
            times.append(at)
    return h, market, times


@pytest.mark.parametrize("seed", range(12))
async def test_the_backtests_tape_price_is_the_sqls(pool: asyncpg.Pool, seed: int) -> None:
    """The backtest's tape (fed the stored rows as the replay reads them) marks each token
    where the SQL does: now, before midnight, and the quote's tape of the prints since a time."""
    h, market, times = _world(seed)
    await h.store(pool)
    tokens = [token_of(market, 0), token_of(market, 1)]
    tape = Tape(900)
    midnight = datetime(2026, 5, 2, tzinfo=UTC)
    rng = random.Random(seed)
    cuts = sorted(rng.sample(times, 3))
    async with pool.acquire() as conn:
        fills = [f async for f in stream_trades(conn, T0 - timedelta(days=1), times[-1])]
        for fill in fills:
            tape.observe(
                fill.view, taker=fill.taker, complement=fill.complement,
                counterparty=fill.counterparty,
            )  # fmt: skip
        for token in tokens:
            assert tape.last_price(token) == await conn.fetchval(_TAPE, Decimal(token))
            if times[-1] >= midnight:
                before = await conn.fetchval(_BEFORE, Decimal(token), midnight)
                assert tape.midnight_price(token, midnight.date()) == before
            for since in cuts:
                sql = await conn.fetchval(_SINCE, Decimal(token), since)
                assert tape.tape_price(token, since) == sql
