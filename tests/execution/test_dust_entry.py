"""A position under the market's minimum order size (dust: what is left of a partly filled
entry, which the exchange refuses to sell) no longer closes its market to the strategy: a new
entry is made as the caps allow, the position follows the new entry's leader, and its exit
sells the whole position, the dust with it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_trade, add_wallet, signal_outcomes
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import Clock, live_executor, live_strategy, position_state

SECOND = "0x" + "5e" * 20  # another whale


async def test_a_dust_position_takes_a_new_entry_and_is_sold_whole_by_its_exit(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """3 shares of the entry matched, the leader sold, the rest was cancelled and the 3 could
    not be sold (minimum 5). Another whale's buy of the token was then SKIPPED
    ``position_exists``, and so was every later one until the market resolved."""
    await live_strategy(pool)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(3)
    market.bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_wallet(conn, SECOND, 8.5)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.left_behind.wait()
    await ex.maintenance()
    assert (await signal_outcomes(pool))[1] == ("SELL", "SKIPPED", "exit_below_min_size")
    assert await position_state(pool) == ("OPEN", Decimal(3))
    del market.ask_sizes[TOKEN_YES]
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=SECOND, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2] == ("BUY", "EXECUTED", "filled")
    status, held = await position_state(pool)
    assert status == "OPEN" and held > 5
    async with pool.acquire() as conn:  # the new entry's leader leaves: the whole of it goes
        await add_trade(conn, wallet=SECOND, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[3:] == [("SELL", "EXECUTED", "filled")]
    sold = await pool.fetchval(
        "SELECT filled_shares FROM orderflow_orders WHERE side = 'SELL' ORDER BY id DESC LIMIT 1"
    )
    assert (sold, await position_state(pool)) == (held, ("CLOSED", Decimal(0)))


async def _exit_resting(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker, sold_at: str = "0.49"
) -> tuple[Executor, Clock, Decimal, asyncpg.Record]:
    """A live strategy (SECOND's wallet stored too) whose entry filled at once (ask 0.50);
    nobody bids, so its exit of the leader's sale at ``sold_at`` rests: the executor, its
    clock, the shares held and the exit's order row."""
    await live_strategy(pool)
    clock = Clock()
    ex = live_executor(pool, dsn, live, clock=clock)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_wallet(conn, SECOND, 8.5)
        await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills at once
    await ex.catch_up()
    held = (await position_state(pool))[1]
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES, None)  # nobody bids: the exit rests
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price=sold_at)
    await ex.catch_up()
    await ex.worker.drain()
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    return ex, clock, held, sell


async def test_no_entry_while_the_dust_s_exit_still_rests(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit rested at the bid and a counterparty took all but 3 shares of it: 3 held, and
    our SELL of those 3 still on the book. The 3 are dust (under the minimum of 5), which takes
    new entries; but a BUY of the token now would meet our own resting SELL (a self-cross on
    the CLOB), and the position is being exited, not held: the entry waits until the exit ends."""
    ex, _, held, sell = await _exit_resting(pool, dsn, clob, live)
    assert sell["status"] == "OPEN"
    clob.fill(sell["exchange_order_id"], held - 3)
    await ex.maintenance()  # books the exit's partial fill: 3 held, 3 still on sale
    assert await position_state(pool) == ("OPEN", Decimal(3))
    assert clob.live_orders() == [sell["exchange_order_id"]]
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=SECOND, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2] == ("BUY", "SKIPPED", "position_exists")
    posts = [m for m, p in clob.requests if p == "/order"]
    assert posts == ["POST", "POST"]  # the entry and the exit: no BUY against our SELL


async def test_the_dust_s_resting_exit_refuses_no_entry_in_the_other_outcome(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """3 shares of YES held and our SELL of them resting (as above). Dust takes entries in its
    market, the other outcome's included; the resting exit refused the whole market, though
    only a BUY of YES would meet our own SELL of YES (a BUY of NO is on the same side of the
    unified book as that SELL: it cannot cross it). Another whale's buy of NO was SKIPPED
    ``position_exists``: it is taken."""
    ex, _, held, sell = await _exit_resting(pool, dsn, clob, live)
    clob.fill(sell["exchange_order_id"], held - 3)
    await ex.maintenance()  # 3 held, 3 still on sale
    assert clob.live_orders() == [sell["exchange_order_id"]]
    clob.markets[TOKEN_YES].asks[TOKEN_NO] = Decimal("0.50")
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=SECOND, token_id=TOKEN_NO, price="0.50", outcome_index=1)
    await ex.catch_up()
    await ex.worker.drain()
    assert (await signal_outcomes(pool))[2] == ("BUY", "EXECUTED", "filled")
    bought = await pool.fetchval(
        "SELECT shares FROM orderflow_positions WHERE token_id = $1", Decimal(TOKEN_NO)
    )
    assert bought > 5 and clob.live_orders() == [sell["exchange_order_id"]]


async def _dust_taken_over(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> tuple[Executor, Decimal, str]:
    """The first entry's exit sold all but 3 shares at a profit (the trade returned) and
    expired; a new entry of another whale took the 3 of dust over. The executor and what the
    position had realized before the handover."""
    ex, clock, held, sell = await _exit_resting(pool, dsn, clob, live, sold_at="0.60")
    sold = clob.fill(sell["exchange_order_id"], held - 3)
    clob.clock_offset += 3600  # the rest of the exit expires
    assert clob.live_orders() == []
    clob.clock_offset = 0
    clock.offset += timedelta(hours=1)
    await ex.maintenance()
    first_part = await pool.fetchval("SELECT realized_pnl FROM orderflow_positions")
    assert await position_state(pool) == ("OPEN", Decimal(3)) and first_part > 0
    clock.offset = timedelta(0)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=SECOND, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    return ex, first_part, sold


async def _second_leader_leaves(pool: asyncpg.Pool, ex: Executor) -> list[Decimal | None]:
    """The new entry's leader sells: the position is sold whole. Each entry's P&L."""
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=SECOND, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()
    assert (await position_state(pool))[0] == "CLOSED"
    rows = await pool.fetch("SELECT pnl FROM orderflow_signals WHERE side = 'BUY' ORDER BY id")
    return [r["pnl"] for r in rows]


async def test_each_signal_keeps_the_pnl_of_its_own_part_of_a_dust_position(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The position's whole P&L, the first exit's included, went to the new entry's signal and
    the first signal got none: each now gets what was realized while the position was its
    own."""
    ex, first_part, _ = await _dust_taken_over(pool, dsn, clob, live)
    pnls = await _second_leader_leaves(pool, ex)
    total = await pool.fetchval("SELECT realized_pnl FROM orderflow_positions")
    assert pnls == [first_part, total - first_part]


async def test_a_reversal_of_the_earlier_part_after_the_handover_is_the_earlier_signal_s(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """After the handover the first exit's trade FAILED on chain: its shares came back and its
    profit was never made. The first signal kept the profit it was handed (fixed at the
    handover) and the new owner was charged for it: its P&L at close was what the position
    realized less a profit that no longer existed. The first signal's part is its own fills'
    replay, now nothing realized; the new owner gets all the position realized."""
    ex, _, sold = await _dust_taken_over(pool, dsn, clob, live)
    clob.settle(sold, "FAILED")
    for _ in range(2):
        await ex.maintenance()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_fills WHERE reverses IS NOT NULL")
    pnls = await _second_leader_leaves(pool, ex)
    total = await pool.fetchval("SELECT realized_pnl FROM orderflow_positions")
    assert pnls == [0, total]
