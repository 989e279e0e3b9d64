"""A live exit reads the wallet's balance of the token it sells (``GET /balance-allowance?
asset_type=CONDITIONAL``, :mod:`orderflow.execution.wallet_shares`): what that costs on the
normal path, what a failed read does, and that the books are squared once, restarts included.
The defect itself (part of the shares moved away, the rest never sold) is
``test_exit_shares_gone.py``'s."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.broker import WalletShares
from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet_shares import SharesRead, books_before, square
from orderflow.signals.exits import REFUSED_IN_A_ROW
from tests.execution.conftest import TOKEN_YES, add_trade
from tests.execution.exitkit import a_pass, resting_exit, sells_sent
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes, live_executor


def _share_reads(clob: FakeClob) -> int:
    return clob.balance_reads.count("CONDITIONAL")


async def _sold(pool: asyncpg.Pool) -> Decimal:
    found = await pool.fetchval(
        "SELECT coalesce(sum(shares), 0) FROM orderflow_fills WHERE side = 'SELL'"
    )
    return Decimal(found)


async def test_the_stand_in_answers_the_balance_as_the_sdk_reads_it(
    clob: FakeClob, live: LiveBroker
) -> None:
    """The balance in base units of 6 decimals, a string (the SDK's ``BalanceAllowance``)."""
    clob.holdings[TOKEN_YES] = Decimal("12.345678")
    found = await live.wallet_shares(TOKEN_YES)
    assert found == WalletShares(live.wallet, TOKEN_YES, Decimal("12.345678"))
    assert await live.wallet_shares(TOKEN_YES + 1) == WalletShares(
        live.wallet, TOKEN_YES + 1, Decimal(0)
    )


async def test_a_normal_exit_reads_the_wallet_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The wallet holds every share: one balance read per exit decided (none while it rests,
    whatever the leader sells meanwhile, nor in maintenance), nothing squared, the whole
    position sold once a bid comes."""
    ex, exit_id = await resting_exit(pool, dsn, clob, live)
    assert _share_reads(clob) == 1
    for _ in range(2):  # the leader sells again while our exit rests
        async with pool.acquire() as conn:
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
        await ex.catch_up()
        await ex.worker.drain()
        await a_pass(pool, ex)
    assert _share_reads(clob) == 1
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    clob.fill(exit_id)
    await a_pass(pool, ex)
    assert await _sold(pool) == held
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0
    assert _share_reads(clob) == 1 and sells_sent(clob) == 1


async def test_an_exit_filled_at_once_reads_the_wallet_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex = await holding_yes(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    await a_pass(pool, ex)
    assert await _sold(pool) == held
    assert _share_reads(clob) == 1


@pytest.mark.parametrize("failure", ["http 503", "timeout", "unparsable", "negative"])
async def test_a_failed_balance_read_sells_the_books_and_does_not_loop(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, failure: str
) -> None:
    """Half the shares moved away and every balance read failing: nothing is squared, each
    exit offers the books (never more), is refused ``not enough balance / allowance``, and is
    tried REFUSED_IN_A_ROW times then hourly — one read per exit tried, no more."""
    ex, _ = await resting_exit(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    clob.move_shares(TOKEN_YES, clob.holdings[TOKEN_YES] / 2)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")
    if failure == "http 503":
        clob.fail("GET", "/balance-allowance", 503)
    elif failure == "timeout":
        clob.path_delays["/balance-allowance"] = 1.0
        ex.worker.desk.call_timeout = 0.2
    else:
        clob.balance_patch = {"balance": "lots" if failure == "unparsable" else "-1"}
    before = len(clob.requests)
    for _ in range(REFUSED_IN_A_ROW + 3):
        await a_pass(pool, ex)
    assert await _sold(pool) == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0
    shares = await pool.fetch("SELECT shares FROM orderflow_orders WHERE side = 'SELL'")
    assert all(r["shares"] <= held for r in shares)
    assert sells_sent(clob) == 1 + REFUSED_IN_A_ROW  # the first, then 5 refused: hourly
    assert set(clob.rejections) == {"not enough balance / allowance"}
    reads = sum(1 for m, p in clob.requests[before:] if p == "/balance-allowance")
    assert reads <= REFUSED_IN_A_ROW * 3  # one read per exit (the SDK's own retries aside)


async def test_a_restart_after_the_books_were_squared_books_nothing_twice(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The books squared, the exit that followed refused (the process stops there); a new
    executor reads the wallet again, finds the books square, and sells what is left: one
    move, whatever the passes and restarts — and squaring again with the same read books
    nothing."""
    ex, _ = await resting_exit(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    left = clob.holdings[TOKEN_YES] / 2
    clob.move_shares(TOKEN_YES, clob.holdings[TOKEN_YES] - left)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")
    refused = clob.fail("POST", "/order", 400, times=1)
    for _ in range(3):  # the cancel read, then the exit tried again after its pause
        await a_pass(pool, ex)
        if refused.times == 0:
            break
    assert refused.times == 0
    moves = await pool.fetch("SELECT shares, wallet FROM orderflow_wallet_moves")
    assert [tuple(m) for m in moves] == [(held - left, left)]
    assert await _sold(pool) == 0
    restarted = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    for _ in range(3):
        await a_pass(pool, restarted)
    assert await _sold(pool) == left
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 1
    async with pool.acquire() as conn:  # the same read again: square already
        read = SharesRead(
            live.wallet,
            TOKEN_YES,
            left,
            *await books_before(conn, TOKEN_YES, ex.worker.desk.clock()),
        )
        assert await square(conn, {TOKEN_YES: read}) == {}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 1


async def test_a_stale_balance_short_of_the_books_is_read_again_before_anything_is_booked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange still reports a balance of 0 from its cache (the buy's shares not yet in
    it) while the wallet holds them all: the shortfall is read again after ``GET
    /balance-allowance/update`` (as the SDK's own recovery does), found none, and nothing is
    booked — the exit sells the whole position. Squaring on the cached read booked all of it
    as gone and sent nothing."""
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    await ex.maintenance()
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    clob.cached_shares[TOKEN_YES] = Decimal(0)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    await a_pass(pool, ex)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0
    assert await _sold(pool) == held
    assert clob.balance_reads.count("update CONDITIONAL") == 1
    assert _share_reads(clob) == 2  # the cached read, and the one after the refresh
