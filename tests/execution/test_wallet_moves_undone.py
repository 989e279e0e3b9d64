"""A move booked on a balance that was wrong (stale even after the exchange's refresh, a chain
the CLOB read behind): when a later fresh read shows the shares back in the wallet, the move is
undone (:mod:`orderflow.execution.wallet_shares`): the position replayed without it — open
again, its realized P&L as before —, the move kept, marked undone (migration 105), and no
longer reported as left the wallet. Only a whole move whose shares are all back beyond the
books is undone: shares that came back in part, or shares beyond the books with no move to
undo, are not the executor's to tell apart from shares that came from elsewhere."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.status_queries import left_wallet
from orderflow.execution.wallet_shares import exit_reads, square
from tests.execution.conftest import TOKEN_YES, add_trade
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes


async def _square(pool: asyncpg.Pool, ex: Executor) -> dict[int, Decimal]:
    reads = await exit_reads(pool.acquire, ex.worker.desk, [TOKEN_YES])
    async with pool.acquire() as conn:
        return await square(conn, reads)


async def _position(pool: asyncpg.Pool) -> tuple[str, Decimal, Decimal]:
    row = await pool.fetchrow("SELECT status, shares, realized_pnl FROM orderflow_positions")
    assert row is not None
    return row["status"], row["shares"], row["realized_pnl"]


async def _held(pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker) -> Executor:
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    clob.settle(entry["id"], "MINED")
    await ex.maintenance()
    return ex


async def test_a_move_whose_shares_come_back_is_undone(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange answers 0 for the token, refresh or not, while the chain it reads lags: the
    whole position is booked gone (CLOSED ``left_wallet``, its cost a loss). A later read
    shows the 400.16 back: the move is undone — the position OPEN with its shares and realized
    P&L as before, nothing reported as left the wallet — once, whatever is read after. Failed
    before: ``assert {} == {…: Decimal('-400.160000')}``, the move kept for good (the
    position CLOSED, its cost a loss) and the shares never sold."""
    ex = await _held(pool, dsn, clob, live)
    before = await _position(pool)
    held = before[1]
    clob.move_shares(TOKEN_YES, held)  # what the exchange reads, fresh or not
    assert await _square(pool, ex) == {TOKEN_YES: held}
    assert (await _position(pool))[:2] == ("CLOSED", Decimal(0))
    clob.holdings[TOKEN_YES] = held  # the chain caught up: they never left
    assert await _square(pool, ex) == {TOKEN_YES: -held}
    assert await _position(pool) == before
    async with pool.acquire() as conn:
        assert await left_wallet(conn, "live-one") == (Decimal(0), Decimal(0))
    moves = await pool.fetch("SELECT shares, undone_at IS NOT NULL AS undone, undone_wallet"
                             " FROM orderflow_wallet_moves")  # fmt: skip
    assert [tuple(m) for m in moves] == [(held, True, held)]
    assert await _square(pool, ex) == {}
    assert await _position(pool) == before


async def test_shares_back_in_part_or_with_no_move_undo_nothing(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Control: 100 of the 400.16 leave and the move is booked; 60 come back: the move is not
    undone (part of it may be shares from elsewhere), nothing else is booked. A wallet holding
    more than the books with no move booked changes nothing either."""
    ex = await _held(pool, dsn, clob, live)
    held = (await _position(pool))[1]
    clob.holdings[TOKEN_YES] = held + 5
    assert await _square(pool, ex) == {}
    clob.holdings[TOKEN_YES] = held
    clob.move_shares(TOKEN_YES, Decimal(100))
    assert await _square(pool, ex) == {TOKEN_YES: Decimal(100)}
    clob.holdings[TOKEN_YES] += 60
    assert await _square(pool, ex) == {}
    assert (await _position(pool))[:2] == ("OPEN", held - 100)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 1


async def test_a_sale_of_ours_not_mined_yet_does_not_undo_a_move(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """100 of the 400.16 really leave the wallet and the move is booked. The leader sells; the
    exit meets a bid of 150 shares and its rest is closed: 150 sold, booked, the position open
    with 150.16. The sale is matched, not mined: the chain — the balance the exchange reports
    once refreshed (the stand-in's ``sales_leave_at_mined``) — still holds its 150, 150 beyond
    the books. They are ours on their way out, not the moved 100 come back. Failed before:
    ``assert {…: Decimal('-100.000000')} == {}``, the move undone (the position 250.16), and
    once the sale was mined the wallet held 150.16 against books of 250.16."""
    clob.sales_leave_at_mined = True
    ex = await _held(pool, dsn, clob, live)
    held = (await _position(pool))[1]
    clob.move_shares(TOKEN_YES, Decimal(100))
    assert await _square(pool, ex) == {TOKEN_YES: Decimal(100)}
    clob.markets[TOKEN_YES].bid_sizes[TOKEN_YES] = Decimal(150)
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert (sell["status"], sell["filled_shares"]) == ("OPEN", 150)
    clob.report(sell["exchange_order_id"], "CANCELED")  # the rest closed by the exchange
    await ex.desk.reconcile()
    assert await _position(pool) == ("OPEN", held - 250, (await _position(pool))[2])
    assert await _square(pool, ex) == {}
    assert (await _position(pool))[:2] == ("OPEN", held - 250)
    (sale,) = [t["id"] for t in clob.trades if t["_moved"][1] == "SELL"]
    clob.settle(sale, "MINED")
    await ex.maintenance()
    assert await _square(pool, ex) == {}
    assert (await _position(pool))[:2] == ("OPEN", clob.holdings[TOKEN_YES])
