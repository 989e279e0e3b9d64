"""Shares that left the wallet from a position whose leader never sells: found by maintenance's
slow read of held tokens (:mod:`orderflow.execution.wallet_audit`), squared through the same
step as an exit's (:mod:`orderflow.execution.wallet_shares`), not left in the books — the
limits' exposure, the equity — until settlement.

Before (until 7 Dec 2026) such shares were found only when an exit of the token was decided."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet_audit import INTERVAL_SECS, WalletAudit
from tests.execution.conftest import TOKEN_YES
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes


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
    ex = await holding_yes(pool, dsn, clob, live)
    now = [0.0]
    ex.wallet_audit = WalletAudit(monotonic=lambda: now[0])
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    await ex.maintenance()
    held = await _position_shares(pool)
    gone = (held / 2).quantize(Decimal("0.000001"))
    clob.move_shares(TOKEN_YES, gone)
    reads = _share_reads(clob)
    await ex.maintenance()
    assert _share_reads(clob) == reads  # within the hour: not read
    now[0] += INTERVAL_SECS
    await ex.maintenance()
    moves = await pool.fetch("SELECT shares, books, wallet FROM orderflow_wallet_moves")
    assert len(moves) == 1
    assert moves[0]["shares"] == gone and moves[0]["books"] == held
    assert await _position_shares(pool) == held - gone
    assert _share_reads(clob) - reads == 2  # the read, and the one after the refresh (short)
    for _ in range(2):
        await ex.maintenance()
    now[0] += INTERVAL_SECS
    await ex.maintenance()  # read again: squared, nothing booked twice
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 1
    assert _share_reads(clob) - reads == 3


async def test_a_wallet_holding_the_books_books_nothing_and_is_read_once_an_hour(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Control: the wallet holds every share: nothing read within the hour, then one read an
    hour (not short: no refresh), nothing booked."""
    ex = await holding_yes(pool, dsn, clob, live)
    now = [0.0]
    ex.wallet_audit = WalletAudit(monotonic=lambda: now[0])
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    reads = _share_reads(clob)
    for hour in range(3):
        for _ in range(2):
            await ex.maintenance()
        assert _share_reads(clob) - reads == hour
        now[0] += INTERVAL_SECS
    assert clob.balance_reads.count("update CONDITIONAL") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0


def test_reads_are_bounded_per_pass_the_longest_due_first() -> None:
    """At most ``per_pass`` tokens a pass; a token first seen due an interval later, then once
    an interval; the longest due first; tokens no longer held forgotten."""
    now = [0.0]
    audit = WalletAudit(interval_secs=100.0, per_pass=2, monotonic=lambda: now[0])
    tokens = {1, 2, 3, 4, 5}
    assert audit.take(tokens) == []  # first seen: due in an interval
    now[0] = 100.0
    assert audit.take(tokens) == [1, 2]
    now[0] = 110.0
    assert audit.take(tokens) == [3, 4]
    now[0] = 120.0
    assert audit.take(tokens | {6}) == [5]  # 6 first seen: due at 220
    now[0] = 150.0
    assert audit.take(tokens | {6}) == []  # every one read within the interval
    now[0] = 215.0
    assert audit.take(tokens | {6}) == [1, 2]  # due again at 200, before 3, 4 (210)
    assert audit.take({3}) == [3] and set(audit.next_at) == {3}
