"""Shares that left the wallet from a position whose leader never sells: found by maintenance's
slow read of held tokens (:mod:`orderflow.execution.wallet_audit`), squared through the same
step as an exit's (:mod:`orderflow.execution.wallet_shares`), not left in the books — the
limits' exposure, the equity — until settlement.

Before (until 7 Dec 2026) such shares were found only when an exit of the token was decided."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet_audit import INTERVAL_SECS, WalletAudit
from tests.execution.conftest import TOKEN_YES, add_trade, add_wallet, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, holding_yes, live_executor, live_strategy

HOUR = timedelta(seconds=INTERVAL_SECS)
OTHER_WHALE = "0x" + "a2" * 20


def _share_reads(clob: FakeClob) -> int:
    return clob.balance_reads.count("CONDITIONAL")


async def _position_shares(pool: asyncpg.Pool) -> Decimal:
    return Decimal(
        await pool.fetchval(
            "SELECT shares FROM orderflow_positions WHERE mode = 'live' AND token_id = $1",
            Decimal(TOKEN_YES),
        )
    )


async def test_shares_moved_from_a_position_never_exited_are_squared_by_maintenance(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """A held YES position, its buy mined; half its shares leave the wallet and the leader
    never sells. Passes within the hour read nothing; the first after it reads the held
    token's balance and books the shortfall once as a move; an hour later it is read again and
    nothing more is booked. Failed before: nothing booked (``assert 0 == 1``: no move, the
    books kept every share until settlement)."""
    ex, now = await _held_mined(pool, dsn, clob, live)
    await ex.maintenance()
    held = await _position_shares(pool)
    gone = (held / 2).quantize(Decimal("0.000001"))
    clob.move_shares(TOKEN_YES, gone)
    reads = _share_reads(clob)
    await ex.maintenance()
    assert _share_reads(clob) == reads  # within the hour: not read
    now.offset += HOUR
    await ex.maintenance()
    moves = await pool.fetch("SELECT shares, books, wallet FROM orderflow_wallet_moves")
    assert len(moves) == 1
    assert moves[0]["shares"] == gone and moves[0]["books"] == held
    assert await _position_shares(pool) == held - gone
    assert _share_reads(clob) - reads == 2  # the read, and the one after the refresh (short)
    for _ in range(2):
        await ex.maintenance()
    now.offset += HOUR
    await ex.maintenance()  # read again: squared, nothing booked twice
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 1
    assert _share_reads(clob) - reads == 3


async def test_a_wallet_holding_the_books_books_nothing_and_is_read_once_an_hour(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Control: the wallet holds every share: nothing read within the hour, then one read an
    hour (not short: no refresh), nothing booked."""
    ex, now = await _held_mined(pool, dsn, clob, live)
    reads = _share_reads(clob)
    for hour in range(3):
        for _ in range(2):
            await ex.maintenance()
        assert _share_reads(clob) - reads == hour
        now.offset += HOUR
    assert clob.balance_reads.count("update CONDITIONAL") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0


async def test_reads_are_bounded_per_pass_the_longest_due_first(pool: asyncpg.Pool) -> None:
    """At most ``per_pass`` tokens a pass; a token first seen due an interval later, then once
    an interval; the longest due first; tokens no longer held forgotten."""
    now = Clock()
    audit = WalletAudit(interval_secs=100.0, per_pass=2, clock=now)

    async def take(tokens: set[int], at: float) -> list[int]:
        now.offset = timedelta(seconds=at)
        async with pool.acquire() as conn:
            return await audit.take(conn, tokens)

    tokens = {1, 2, 3, 4, 5}
    assert await take(tokens, 0.0) == []  # first seen: due in an interval
    assert await take(tokens, 100.0) == [1, 2]
    assert await take(tokens, 110.0) == [3, 4]
    assert await take(tokens | {6}, 120.0) == [5]  # 6 first seen: due at 220
    assert await take(tokens | {6}, 150.0) == []  # every one read within the interval
    assert await take(tokens | {6}, 215.0) == [1, 2]  # due again at 200, before 3, 4 (210)
    assert await take({3}, 215.0) == [3]
    assert await pool.fetch("SELECT token_id FROM orderflow_wallet_reads") == [(3,)]


async def test_a_restart_goes_on_with_the_schedule(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The held token read after its first hour; an hour later, when it is due again, the
    executor restarts (or another takes the lead): the new one reads it at its first pass, not
    an hour later; and restarting again half an hour after that read reads nothing more within
    the hour. Failed before (the schedule in the leader's memory, every token first seen again
    after a restart): ``assert 0 == 1``, no read at the new leader's first pass — a leader
    restarted more often than hourly never audited anything."""
    ex, now = await _held_mined(pool, dsn, clob, live)
    await ex.maintenance()
    now.offset += HOUR
    await ex.maintenance()
    reads = _share_reads(clob)
    assert reads >= 1
    now.offset += HOUR
    await (await _restarted(pool, dsn, live, now)).maintenance()
    assert _share_reads(clob) - reads == 1
    now.offset += HOUR / 2
    again = await _restarted(pool, dsn, live, now)
    await again.maintenance()
    assert _share_reads(clob) - reads == 1
    now.offset += HOUR / 2
    await again.maintenance()
    assert _share_reads(clob) - reads == 2


async def _restarted(pool: asyncpg.Pool, dsn: str, live: LiveBroker, now: Clock) -> Executor:
    """A new executor process on the same database (a restart, a new leader), its audit on
    ``now``."""
    ex = live_executor(pool, dsn, live)
    ex.wallet_audit = WalletAudit(clock=now)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    return ex


async def _held_mined(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> tuple[Executor, Clock]:
    """A held YES position whose buy is mined, the executor's audit on the returned clock."""
    ex = await holding_yes(pool, dsn, clob, live)
    now = Clock()
    ex.wallet_audit = WalletAudit(clock=now)
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    return ex, now


async def test_an_exit_s_read_counts_as_the_token_s_audit_read(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Two live strategies on the wallet hold YES, each following its own whale. 50 minutes
    after the audit first saw the token, ``live-one``'s leader sells: its exit reads the
    wallet's balance of YES (one ``GET /balance-allowance``) and sells. ``live-two`` still
    holds YES; the audit's read, due ten minutes later, would read the same balance again:
    the exit's read is as fresh as the audit's, and every read spends the exchange's
    rate-limited budget. It counts as the token's read: the next is an hour after it. Failed
    before: ``assert (2 - 1) == 0``, read again ten minutes after the exit's."""
    clock = Clock()
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live, clock=clock)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await live_strategy(pool, "live-two")
    async with pool.acquire() as conn:
        await add_wallet(conn, OTHER_WHALE, 8.5)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50", wallet=OTHER_WHALE)
    await ex.worker.drain()
    for trade in clob.trades:
        clob.settle(trade["id"], "MINED")
    await ex.maintenance()  # the token first seen held: due an hour later
    clock.offset += HOUR * 5 / 6
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    closed = await pool.fetch("SELECT strategy FROM orderflow_positions WHERE status = 'CLOSED'")
    assert [r["strategy"] for r in closed] == ["live-one"]
    reads = _share_reads(clob)
    assert reads == 1  # the exit's
    clock.offset += HOUR / 6
    await ex.maintenance()
    assert _share_reads(clob) - reads == 0
    clock.offset += HOUR * 5 / 6
    await ex.maintenance()
    assert _share_reads(clob) - reads == 1  # an hour after the exit's read
