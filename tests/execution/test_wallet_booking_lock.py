"""A fill booked while the books are squared with the wallet (:mod:`orderflow.execution.
wallet_shares`): the squaring checks, under the (wallet, token) lock, that the books are those
the wallet was read against and that nothing of ours is on its way — then reads and writes the
positions. A booking the check cannot see coming (a late fill of an order already closed, a
failed sale's reversal) that lands between the check and the writes must wait for the squaring,
or the squaring compares the balance read before it with books that include it.

Two real connections on the real PostgreSQL: the squaring is held just before it reads the
positions (its check passed, the lock held) while the booking runs through the executor's own
path (reconciliation, the trades' settlement watch) until it is done or waits for a lock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.execution import position_queries, settle_queries, wallet_share_queries
from orderflow.execution.live import LiveBroker
from orderflow.execution.positions import settle_resolved
from orderflow.execution.wallet_shares import exit_reads, square
from tests.execution.conftest import MARKET, TOKEN_YES, WAIT_SECS, add_trade, follow, resolve
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes, mined, resting_second_entry


async def _done_or_waiting(task: asyncio.Task[Any], pool: asyncpg.Pool) -> None:
    """Until ``task`` is done or a session waits for an advisory lock (the booking held)."""
    async with asyncio.timeout(WAIT_SECS):  # a safety net only
        while not task.done():
            waiting = await pool.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if waiting:
                return
            await asyncio.sleep(0.01)


def _hold_before_positions(
    monkeypatch: pytest.MonkeyPatch,
    pool: asyncpg.Pool,
    booking: Callable[[], Coroutine[Any, Any, None]],
) -> list[asyncio.Task[None]]:
    """The squaring, its check passed under the lock, runs ``booking`` on another connection
    before it reads the positions, and goes on once that is done or waiting for a lock."""
    real = wallet_share_queries.positions
    started: list[asyncio.Task[None]] = []

    async def held(conn: asyncpg.Connection, wallet: str, token_id: int) -> list[asyncpg.Record]:
        if not started:
            started.append(asyncio.create_task(booking()))
            await _done_or_waiting(started[0], pool)
        return await real(conn, wallet, token_id)

    monkeypatch.setattr(wallet_share_queries, "positions", held)
    return started


async def _late_buy_fill(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker) -> Any:
    """``live-one`` holds 400.16 YES, mined. ``live-two``'s entry in YES rests; a counterparty
    takes 60 shares of it, which the account's trades do not list yet, and ``live-two`` is
    killed: its cancel closes the order with nothing booked (our own cancel: its matched size
    not asked). The 60 are matched, not mined: not in the wallet yet (a real chain's)."""
    clob.credit_at_mined = True
    ex = await holding_yes(pool, dsn, clob, live)
    await mined(ex, clob)
    oid = await resting_second_entry(pool, ex, clob)
    clob.unlisted.add(clob.fill(oid, Decimal(60)))
    await pool.execute(
        "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
        " WHERE name = 'live-two'"
    )
    await ex.desk.cancels.cancel_strategy("live-two")
    row = await pool.fetchrow("SELECT status, filled_shares FROM orderflow_orders WHERE id = 2")
    assert tuple(row) == ("CANCELED", 0)

    async def booking() -> None:
        clob.unlisted.clear()  # listed now: reconciliation books the late fill
        await ex.desk.reconcile()

    return ex, booking


async def _failed_sale(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker) -> Any:
    """``live-one`` holds 400.16 YES, mined; the leader sells and its exit fills at once: the
    position closed, the shares gone from the wallet at the match. Then the sale's trade FAILS
    on chain: the shares are back in the wallet, and the settlement watch reverses the sale —
    the position open again."""
    ex = await holding_yes(pool, dsn, clob, live)
    await mined(ex, clob)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    (sale,) = [t["id"] for t in clob.trades if t["status"] == "TRADE_STATUS_MATCHED"]

    async def booking() -> None:
        clob.settle(sale, "FAILED")
        await ex.desk.settlement.track()

    return ex, booking


async def _settlement(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker) -> Any:
    """``live-one`` held 400.16 YES, every share of which left the wallet: booked as a move,
    that position CLOSED ``left_wallet``. It bought YES again at 0.60, mined, held in the wallet.
    The market resolves: maintenance's settlement closes the new position (``resolved``), and
    with no open position of ``live-one`` left in the token the old one's move may be undone
    by a read showing its shares back (the new position holds more than the move: 400.16)."""
    ex = await holding_yes(pool, dsn, clob, live)
    await mined(ex, clob)
    held = clob.holdings[TOKEN_YES]
    clob.move_shares(TOKEN_YES, held)
    async with pool.acquire() as conn:
        moved = await square(conn, await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES]))
    assert moved == {TOKEN_YES: held}
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.60")  # more shares than the move's
    await follow(pool, ex, token_id=TOKEN_YES, price="0.60")
    await ex.worker.drain()
    await mined(ex, clob)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])

    async def booking() -> None:
        async with pool.acquire() as conn:
            await settle_resolved(conn, ex.clock())

    return ex, booking


CASES = {
    "a buy's late fill": _late_buy_fill,
    "a sale's failure": _failed_sale,
    "a settlement": _settlement,
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_fill_booked_while_the_books_are_squared_is_not_booked_as_gone(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """The balance is read (the late fill's 60 not mined: 400.16; the sale matched: 0) with the
    books as they are (400.16; 0) and nothing of ours on its way (the order closed, the sale's
    trade a SELL); the squaring's check passes under the lock; then the fill is booked (the
    books 460.16; 400.16 again) before the squaring reads the positions. Failed on main:
    ``assert {…: Decimal('60.000000')} == {}`` — the late fill's 60 booked as shares that left
    the wallet (shared pro rata: ``live-one`` 52.18…, ``live-two`` 7.81…) — and ``assert {…:
    Decimal('400.160000')} == {}``, the sale's reversal taken straight back as a move, the
    position CLOSED ``left_wallet`` with 400.16 shares in the wallet. Now the booking waits for
    the squaring's lock (:func:`~orderflow.execution.wallet_share_queries.lock_order`): the
    squaring sees the books it was read against, moves nothing, and the booking follows."""
    ex, booking = await CASES[case](pool, dsn, clob, live)
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    read = reads[TOKEN_YES]
    assert (read.shares, read.moving) == (read.books, False)  # agreed, nothing on its way
    moves = "SELECT id, shares, undone_at FROM orderflow_wallet_moves ORDER BY id"
    before = await pool.fetch(moves)
    started = _hold_before_positions(monkeypatch, pool, booking)
    async with pool.acquire() as conn:
        moved = await square(conn, reads)
    await started[0]
    assert moved == {}
    assert await pool.fetch(moves) == before
    books = await pool.fetchval(
        "SELECT coalesce(sum(shares), 0) FROM orderflow_positions WHERE status = 'OPEN'"
    )
    held = {"a buy's late fill": "460.16", "a sale's failure": "400.16", "a settlement": "0"}
    assert books == Decimal(held[case])


# Where each booking is held, its lock taken (module, function), and the books it leaves.
AFTER_LOCK = {
    "a buy's late fill": (position_queries, "open_position_for", "460.16"),
    "a settlement": (settle_queries, "hold_payout", "0"),
}


@pytest.mark.parametrize("case", list(AFTER_LOCK))
async def test_a_squaring_started_while_a_fill_is_booked_waits_for_it(
    pool: asyncpg.Pool,
    dsn: str,
    clob: FakeClob,
    live: LiveBroker,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    """The other way round: the booking (a late fill's, a settlement's) has begun — holding
    whatever it takes first — when the squaring starts. Both finish — no deadlock, whichever
    comes first — and the squaring, seeing books other than those it was read against, moves
    nothing."""
    ex, booking = await CASES[case](pool, dsn, clob, live)
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    moves = "SELECT id, shares, undone_at FROM orderflow_wallet_moves ORDER BY id"
    before = await pool.fetch(moves)
    squared: list[asyncio.Task[dict[int, Decimal]]] = []
    module, name, books_after = AFTER_LOCK[case]
    real = getattr(module, name)

    async def squaring() -> dict[int, Decimal]:
        async with pool.acquire() as conn:
            return await square(conn, reads)

    async def held(*args: Any, **kw: Any) -> Any:
        if not squared:
            squared.append(asyncio.create_task(squaring()))
            await _done_or_waiting(squared[0], pool)
        return await real(*args, **kw)

    monkeypatch.setattr(module, name, held)
    await booking()
    async with asyncio.timeout(WAIT_SECS):
        assert await squared[0] == {}
    assert await pool.fetch(moves) == before
    books = await pool.fetchval(
        "SELECT coalesce(sum(shares), 0) FROM orderflow_positions WHERE status = 'OPEN'"
    )
    assert books == Decimal(books_after)
