"""Shares that left a wallet several live strategies share (one funder): the shortfall is
shared pro rata of each strategy's open shares of the token on the wallet
(:func:`orderflow.execution.wallet_shares.pro_rata`), whichever strategy's exit or audit read
it — the balance does not say whose shares left, and the order the strategies happen to be
squared in is no reason for one to bear them all."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet_audit import INTERVAL_SECS, WalletAudit
from orderflow.execution.wallet_shares import exit_reads, pro_rata, square
from tests.execution.conftest import TOKEN_YES, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, holding_yes, live_strategy


async def _held(pool: asyncpg.Pool) -> dict[str, Decimal]:
    rows = await pool.fetch("SELECT strategy, shares FROM orderflow_positions ORDER BY strategy")
    return {r["strategy"]: r["shares"] for r in rows}


async def test_a_shortfall_on_a_shared_wallet_is_shared_pro_rata(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """``live-one`` holds 400.16 YES, ``live-two`` 196.07 (a smaller cap), both mined, on one
    wallet; a quarter of them, 149.0575, leave it. Whichever strategy's squaring reads it,
    each position gives a quarter — 100.04 and 49.0175 —, each booked as a move of its own,
    and squaring again books nothing. Failed before: the squaring strategy's position bore it
    all (``assert {'live-one': ...'251.102500'), 'live-two': ...'196.070000')} == {...
    '300.12', ... '147.0525'}``; squared by ``live-two``: it kept 47.0125, ``live-one`` 400.16)."""
    ex = await holding_yes(pool, dsn, clob, live)
    await _second_strategy_holding(pool, ex, clob)
    assert await _held(pool) == {"live-one": Decimal("400.16"), "live-two": Decimal("196.07")}
    clob.move_shares(TOKEN_YES, Decimal("149.0575"))
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    async with pool.acquire() as conn:
        assert await square(conn, reads) == {TOKEN_YES: Decimal("149.0575")}
    assert await _held(pool) == {"live-one": Decimal("300.12"), "live-two": Decimal("147.0525")}
    moves = await pool.fetch("SELECT strategy, shares FROM orderflow_wallet_moves ORDER BY 1")
    assert [tuple(m) for m in moves] == [
        ("live-one", Decimal("100.04")),
        ("live-two", Decimal("49.0175")),
    ]
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    async with pool.acquire() as conn:
        assert await square(conn, reads) == {}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 2


def test_pro_rata_sums_to_the_shortfall_to_the_last_decimal() -> None:
    """Shares are kept to 6 decimals: the parts add up to the shortfall exactly, none above its
    position, the remainder to the largest fractions; all of it when nothing is left."""
    assert pro_rata(Decimal("0.000001"), [Decimal(1), Decimal(1)]) == [
        Decimal("0.000001"),
        Decimal(0),
    ]
    parts = pro_rata(Decimal(1), [Decimal(1), Decimal(1), Decimal(1)])
    assert sum(parts) == 1 and sorted(parts) == [Decimal("0.333333")] * 2 + [Decimal("0.333334")]
    held = [Decimal("3.5"), Decimal("0"), Decimal("7.25")]
    assert pro_rata(Decimal("10.75"), held) == held
    assert pro_rata(Decimal(20), held) == held  # never more than a position holds
    assert pro_rata(Decimal(0), held) == [Decimal(0)] * 3


async def test_the_hourly_audit_shares_a_shortfall_out_too(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The same through maintenance's audit (neither leader sells): one read after the hour, a
    move of each position pro rata, nothing more at the next hour."""
    ex = await holding_yes(pool, dsn, clob, live)
    now = Clock()
    ex.wallet_audit = WalletAudit(clock=now)
    await _second_strategy_holding(pool, ex, clob)
    clob.move_shares(TOKEN_YES, Decimal("149.0575"))
    for _ in range(2):
        now.offset += timedelta(seconds=INTERVAL_SECS)
        await ex.maintenance()
    assert await _held(pool) == {"live-one": Decimal("300.12"), "live-two": Decimal("147.0525")}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 2


async def _second_strategy_holding(pool: asyncpg.Pool, ex: Executor, clob: FakeClob) -> None:
    """``live-two`` (a smaller cap) follows the same buy as ``live-one``; both trades mined."""
    await live_strategy(pool, "live-two", max_position_usd=100)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    for trade in clob.trades:
        clob.settle(trade["id"], "MINED")
    await ex.maintenance()
