"""The books squared with a balance read are the books as of that read
(:mod:`orderflow.execution.wallet_shares`): a buy of ours that fills, or whose trade is mined,
between the read (outside the decision lock) and the squaring (under it) is not taken for
shares that left the wallet.

Two live strategies on one wallet: ``live-one`` holds YES, mined; ``live-two`` buys YES too, its
400.16 shares reaching the wallet after the balance was read."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.wallet_shares import exit_reads, square
from tests.execution.conftest import TOKEN_YES, add_trade, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import (
    age_exits,
    holding_yes,
    live_strategy,
    mined,
    resting_exit,
    resting_second_entry,
)


async def _second_buy(pool: asyncpg.Pool, ex: Executor, clob: FakeClob) -> None:
    """``live-two`` follows the whale's next buy of YES: filled at once at the ask."""
    await live_strategy(pool, "live-two")
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()


@pytest.mark.parametrize("when", ["filled after the read", "mined after the read"])
async def test_a_buy_of_ours_reaching_the_wallet_after_the_read_is_not_booked_as_gone(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, when: str
) -> None:
    """The balance read (400.16, every share ``live-one`` holds); then ``live-two``'s buy of
    400.16 fills and is mined — or it had filled before the read, its trade MATCHED and its
    shares not in the wallet yet, and is mined after —; the squaring under the lock finds
    books of 800.32 against the read's 400.16, nothing on its way any more. Nothing is moved:
    the shortfall is the buy's, not shares that left. Failed before: ``assert {…:
    Decimal('400.160000')} == {}``, the 400.16 booked as moved out of ``live-one``'s position
    (CLOSED ``left_wallet``)."""
    ex = await holding_yes(pool, dsn, clob, live)
    await mined(ex, clob)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    if when == "filled after the read":
        reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
        await _second_buy(pool, ex, clob)
    else:
        await _second_buy(pool, ex, clob)
        clob.holdings[TOKEN_YES] -= held  # matched: on chain only once mined
        reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
        clob.holdings[TOKEN_YES] += held
    assert reads[TOKEN_YES].shares == held
    await mined(ex, clob)
    async with pool.acquire() as conn:
        assert await square(conn, reads) == {}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0
    rows = await pool.fetch("SELECT status, shares FROM orderflow_positions ORDER BY id")
    assert [tuple(r) for r in rows] == [("OPEN", held), ("OPEN", held)]


async def test_a_fresh_read_after_the_buy_squares_nothing_and_a_real_move_is_still_booked(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Control: read after both buys are mined, the wallet holds 800.32: nothing short. Then
    100 shares leave the wallet: the next read books them."""
    ex = await holding_yes(pool, dsn, clob, live)
    await _second_buy(pool, ex, clob)
    await mined(ex, clob)
    for gone in (Decimal(0), Decimal(100)):
        clob.move_shares(TOKEN_YES, gone) if gone else None
        reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
        async with pool.acquire() as conn:
            await square(conn, reads)
        moved = await pool.fetchval("SELECT coalesce(sum(shares), 0) FROM orderflow_wallet_moves")
        assert moved == gone
    books = await pool.fetchval("SELECT sum(shares) FROM orderflow_positions")
    assert books == clob.holdings[TOKEN_YES]


async def test_a_sale_of_ours_filled_but_not_booked_yet_is_not_booked_as_gone(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The converse: both strategies hold 400.16 YES and their exits rest (nobody bids);
    ``live-two``'s fills at the exchange, its shares leave the wallet, and the balance is read
    before the executor books that fill. Nothing is moved out of ``live-one``'s position: a
    SELL of ours resting, its fill possibly not booked yet, is ours on its way out. Failed
    before: ``assert {…: Decimal('400.160000')} == {}``, ``live-one``'s 400.16 booked as gone,
    then ``live-two``'s sale booked as well — the books 400.16 short of the wallet."""
    ex = await holding_yes(pool, dsn, clob, live)
    await _second_buy(pool, ex, clob)
    await mined(ex, clob)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions WHERE strategy = 'live-one'")
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    exits = await pool.fetch(
        "SELECT strategy, status, exchange_order_id FROM orderflow_orders WHERE side = 'SELL'"
        " ORDER BY strategy"
    )
    assert [(r["strategy"], r["status"]) for r in exits] == [
        ("live-one", "OPEN"),
        ("live-two", "OPEN"),
    ]
    clob.fill(exits[1]["exchange_order_id"])
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    assert reads[TOKEN_YES].shares == held
    async with pool.acquire() as conn:
        assert await square(conn, reads) == {}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0


async def test_a_sale_matched_but_not_listed_yet_is_not_booked_as_gone(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit rests; a counterparty takes 100 shares of it, which the account's trades do not
    list yet, and it expires: closed CANCELED, its ``size_matched`` 100 kept (``matched_shares``)
    while its late fills are asked for. The next try reads the wallet — 100 short of the books,
    the exchange's sale of them not booked yet — and must not take them for shares that left:
    they are ours on their way out, as a resting SELL's are. Failed before: ``assert [(Decimal(
    '100.000000'), …)] == []``, the 100 booked as moved (a loss at their cost), the retry sold
    200.16 (the books less the move less the matched 100), and once the trades listed the sale
    the position was CLOSED with 100 shares still in the wallet."""
    ex, clock, held, sell = await resting_exit(pool, dsn, clob, live)
    await mined(ex, clob)  # the buy's trade
    clob.unlisted.add(clob.fill(sell["exchange_order_id"], Decimal(100)))
    clob.clock_offset += 600  # ten minutes later the exit has expired at the exchange ...
    assert clob.live_orders() == []
    clob.clock_offset = 0  # (the broker signs expirations with the real time)
    clock.offset += timedelta(minutes=10)  # ... and on our clock: within the late-fill window
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")
    await ex.maintenance()  # closes the expired exit, 100 matched
    await age_exits(pool, timedelta(minutes=1))
    await ex.maintenance()  # tries again: the wallet read, 300.16
    await ex.worker.drain()
    moves = await pool.fetch("SELECT shares, books, wallet FROM orderflow_wallet_moves")
    assert [tuple(m) for m in moves] == []
    sells = await pool.fetch(
        "SELECT status, shares FROM orderflow_orders WHERE side = 'SELL' ORDER BY id"
    )
    assert [tuple(s) for s in sells][1:] == [("FILLED", held - 100)]
    clob.unlisted.clear()  # the first exit's sale listed: booked
    await ex.maintenance()
    row = await pool.fetchrow("SELECT status, shares, close_reason FROM orderflow_positions")
    assert tuple(row) == ("CLOSED", 0, "exit")
    assert clob.holdings[TOKEN_YES] == 0  # every share the wallet held sold


async def test_a_buy_matched_but_not_listed_yet_does_not_undo_a_move(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The BUY side of the same: 100 of ``live-one``'s 400.16 YES really left the wallet and
    were booked so. ``live-two``'s entry in YES rests; a counterparty takes 100 shares of it,
    not listed yet, and the exchange closes the rest. The wallet holds 400.16 again — 100
    beyond the books, all of them ``live-two``'s, on their way to its position. They must not
    be taken for the moved shares come back. Failed before: ``assert {…: Decimal(
    '-100.000000')} == {}``, the move undone (``live-one`` 400.16 again), and once the fill was
    listed the books held 500.16 against the wallet's 400.16."""
    ex = await holding_yes(pool, dsn, clob, live)
    await mined(ex, clob)
    clob.move_shares(TOKEN_YES, Decimal(100))
    async with pool.acquire() as conn:
        moved = await square(conn, await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES]))
    assert moved == {TOKEN_YES: Decimal(100)}
    oid = await resting_second_entry(pool, ex, clob)
    clob.unlisted.add(clob.fill(oid, Decimal(100)))
    clob.report(oid, "CANCELED")
    await ex.maintenance()  # closed CANCELED, 100 matched
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    assert reads[TOKEN_YES].shares == await pool.fetchval(
        "SELECT shares + 100 FROM orderflow_positions WHERE strategy = 'live-one'"
    )
    async with pool.acquire() as conn:
        assert await square(conn, reads) == {}
    clob.unlisted.clear()  # listed: booked
    await ex.maintenance()
    books = await pool.fetchval("SELECT sum(shares) FROM orderflow_positions WHERE status = 'OPEN'")
    assert books == clob.holdings[TOKEN_YES]
