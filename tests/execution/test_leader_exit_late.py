"""An entry that filled as its leader sold is exited: the leader's sell was read while the
strategy held nothing (the entry past its last check, on its way; a resting entry partly filled
before its cancel landed), so that sell made no exit. Maintenance makes it, once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    leading,
    now_true,
    reveal,
    running,
    signal_outcomes,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy


async def _cursor_at_end(pool: asyncpg.Pool) -> bool:
    return bool(
        await pool.fetchval(
            "SELECT min(c.last_trade_id) >= (SELECT max(id) FROM orderflow_trades)"
            " FROM orderflow_executor_cursors c"
        )
    )


async def _closed(pool: asyncpg.Pool) -> bool:
    status: str | None = await pool.fetchval("SELECT status FROM orderflow_positions")
    return status == "CLOSED"


async def test_a_live_entry_filled_as_its_leader_sold_is_exited(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Our BUY had passed its last check and was on its way to a slow exchange when the leader
    sold; it filled on arrival. The sell had found no position, so it made no exit: the
    strategy held what its leader had dumped. Maintenance now sells it at the bid."""
    await live_strategy(pool)
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    async with running(ex):
        await leading(ex)
        clob.path_delays["/order"] = 1.0
        async with pool.acquire() as conn:
            await add_trade(conn, token_id=TOKEN_YES, price="0.50")  # ask 0.50: fills
            await wait_for(lambda: now_true(clob.pending.get("/order", 0) > 0))
            await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
            await wait_for(lambda: _cursor_at_end(pool))
        clob.path_delays.clear()

        async def bought() -> bool:
            return (await signal_outcomes(pool))[:1] == [("BUY", "EXECUTED", "filled")]

        await wait_for(bought)
        await wait_for(lambda: _closed(pool))  # a few maintenance passes
        await ex.maintenance()
    assert await signal_outcomes(pool) == [
        ("BUY", "EXECUTED", "filled"),
        ("SELL", "EXECUTED", "filled"),
    ]
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    buy = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'BUY'")
    assert sell["status"] == "FILLED" and sell["filled_shares"] == buy["filled_shares"]


async def test_what_a_resting_entry_filled_before_its_cancel_is_exited(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Our BUY rested; a counterparty took 6 shares of it, which the executor had not learnt of
    yet, when the leader sold. The rest was cancelled (``leader_exited``) and the 6 shares booked
    from the account's trades afterwards: held, with no exit."""
    await live_strategy(pool)
    clob.markets[TOKEN_NO].bids[TOKEN_NO] = Decimal("0.29")
    ex = live_executor(pool, dsn, live)
    entry = await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")  # ask 0.90
    assert entry is not None
    assert entry["status"] == "OPEN" and entry["filled_shares"] == 0
    clob.fill(entry["exchange_order_id"], Decimal(6))
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_NO, outcome_index=1, price="0.29")
    await ex.catch_up()
    await ex.left_behind.wait()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (entry["status"], entry["status_reason"], entry["filled_shares"]) == (
        "CANCELED",
        "leader_exited",
        6,
    )
    for _ in range(2):
        await ex.maintenance()
    assert await signal_outcomes(pool) == [
        ("BUY", "EXECUTED", "filled"),
        ("SELL", "EXECUTED", "filled"),
    ]
    sell = await pool.fetchrow("SELECT * FROM orderflow_orders WHERE side = 'SELL'")
    assert (sell["status"], sell["filled_shares"]) == ("FILLED", 6)
    assert await _closed(pool)


async def _paper_entry_as_the_leader_sells(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor], *, kill: bool
) -> Executor:
    """Our paper BUY rested; an ask shown afterwards took 6 shares of it, which the executor
    had not read yet, when the leader sold: the sell found nothing to exit, the rest of the
    entry was cancelled (``leader_exited``) and the 6 shares booked. Maintenance exits them
    (a bid shows at the exit's limit), unless the strategy was killed meanwhile."""
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
    await ex.catch_up()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert entry["status"] == "OPEN" and entry["filled_shares"] == 0
    async with pool.acquire() as conn:
        await reveal(conn, price=str(entry["price"]), shares="6")
        await add_trade(conn, side="SELL", price="0.49", at=datetime.now(UTC))
    await ex.catch_up()
    await ex.left_behind.wait()
    entry = await pool.fetchrow("SELECT * FROM orderflow_orders")
    assert (entry["status"], entry["status_reason"], entry["filled_shares"]) == (
        "CANCELED",
        "leader_exited",
        6,
    )
    if kill:
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE orderflow_strategies SET killed = true, generation = generation + 1"
            )
            await ex.registry.refresh(conn)
    await ex.maintenance()
    await fill_resting(pool, ex)
    return ex


async def test_a_paper_entry_filled_as_its_leader_sold_is_exited(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    await _paper_entry_as_the_leader_sells(pool, make_executor, kill=False)
    assert await signal_outcomes(pool) == [
        ("BUY", "EXECUTED", "filled"),
        ("SELL", "EXECUTED", "filled"),
    ]
    assert await _closed(pool)


async def test_a_killed_strategy_records_the_late_exit_once_and_sends_nothing(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Killed while its entry was on its way: the exit is recorded SKIPPED ``strategy_killed``,
    nothing is sent, and neither a later pass nor a restart records another."""
    await _paper_entry_as_the_leader_sells(pool, make_executor, kill=True)
    expected = [("BUY", "EXECUTED", "filled"), ("SELL", "SKIPPED", "strategy_killed")]
    assert await signal_outcomes(pool) == expected
    restarted = make_executor()
    async with pool.acquire() as conn:
        await restarted.registry.refresh(conn)
    for _ in range(2):
        await restarted.maintenance()
    assert await signal_outcomes(pool) == expected
    assert await pool.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 0
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "OPEN"


async def test_an_exit_skipped_while_killed_is_made_once_the_strategy_is_unkilled(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The leader left while the strategy was killed: the exit was SKIPPED ``strategy_killed``
    (a killed strategy sends nothing). Unkilled, the strategy still held what its leader had
    dumped, and on main nothing ever exited it (``strategy_killed`` was final: never tried
    again), to resolution. Now the next pass exits it."""
    ex = await _paper_entry_as_the_leader_sells(pool, make_executor, kill=True)
    for _ in range(2):
        await ex.maintenance()  # while killed: nothing more
    killed = [("BUY", "EXECUTED", "filled"), ("SELL", "SKIPPED", "strategy_killed")]
    assert await signal_outcomes(pool) == killed
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE orderflow_strategies SET killed = false, generation = generation + 1"
        )
        await ex.registry.refresh(conn)
        # the pause after the last try (5 s) has passed
        await conn.execute(
            "UPDATE orderflow_signals SET created_at = created_at - interval '1 minute',"
            " decided_at = decided_at - interval '1 minute' WHERE side = 'SELL'"
        )
    await ex.maintenance()
    await fill_resting(pool, ex)
    assert await signal_outcomes(pool) == [*killed, ("SELL", "EXECUTED", "filled")]
    assert await _closed(pool)
