"""A settlement rests on a resolution a reorg can take away.

The listener stores a market's ``ConditionResolution`` a few blocks behind the head
(``CONFIRMATIONS``) and rolls back every row of blocks a reorg orphaned
(:func:`orderflow.chain.rollback.rollback_from`), the resolution included; the canonical chain's
logs are stored again — the resolution in another block, later, with other payouts, or not at
all. A position the executor settled on it stayed CLOSED ``resolved`` at the old payout: its
P&L and cash counted, its signal's P&L set, while the chain no longer said the market resolved
(and a resolution stored again with other payouts was never applied). A settlement is now undone
when the resolution it rests on is gone or says another payout (the position reopened with its
fills, the P&L and cash no longer counted) and done again once a resolution is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.chain.rollback import retract_block, rollback_from
from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.settlement import LATE_FILLS
from orderflow.migrate import migrations_dir
from tests.execution.conftest import (
    MARKET,
    add_trade,
    fill_resting,
    follow,
    resolve,
    reveal,
    wait_for,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import live_executor, live_strategy
from tests.execution.paperkit import clocked_executor, exit_resting, whale_buys


async def _settled(pool: asyncpg.Pool, ex: Executor, payouts: list[str]) -> asyncpg.Record:
    """``alpha`` followed the whale into YES (filled) and the market resolved (block 2) with
    ``payouts``: the position settled. Its buy."""
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, payouts)
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT status, close_reason FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    buy: asyncpg.Record = await pool.fetchrow("SELECT shares, usdc, fee FROM orderflow_fills")
    return buy


async def _state(pool: asyncpg.Pool, ex: Executor) -> tuple[object, ...]:
    """The position's status, close reason, shares, realized P&L; its signal's P&L; the
    strategy's realized P&L and cash as its limits read them."""
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    pnl = await pool.fetchval("SELECT pnl FROM orderflow_signals WHERE side = 'BUY'")
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["alpha"], ex.clock())
    return (
        pos["status"],
        pos["close_reason"],
        pos["shares"],
        pos["realized_pnl"],
        pnl,
        book.realized,
        book.cash,
    )


async def _rollback(pool: asyncpg.Pool) -> None:
    """A reorg orphans block 2, the resolution's (the trades are in block 1)."""
    async with pool.acquire() as conn:
        stats = await rollback_from(conn, 137, 2)
    assert stats.outcomes == 1 and stats.trades == 0


async def test_a_settlement_whose_resolution_a_reorg_removed_is_undone(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Settled at 1 a share, then the resolution's block is orphaned: the position is open
    again with its shares, nothing realized, its signal's P&L unset, the cash back to the
    bankroll less its cost — and stays so at the next tick (idempotent)."""
    ex = make_executor()
    buy = await _settled(pool, ex, ["1", "0"])
    bankroll = ex.registry.states["alpha"].bankroll
    won = buy["shares"] - buy["usdc"] - buy["fee"]
    assert await _state(pool, ex) == (
        "CLOSED",
        "resolved",
        0,
        won,
        won,
        won,
        bankroll + won,
    )
    await _rollback(pool)
    await ex.maintenance()
    await ex.maintenance()
    cost = buy["usdc"] + buy["fee"]
    assert await _state(pool, ex) == (
        "OPEN",
        None,
        buy["shares"],
        0,
        None,
        0,
        bankroll - cost,
    )


async def test_a_settlement_whose_resolution_a_file_retracted_is_undone(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A file's ``removed: true`` log retracts the resolution's block (at any depth,
    :func:`orderflow.chain.rollback.retract_removed`): undone alike."""
    ex = make_executor()
    buy = await _settled(pool, ex, ["1", "0"])
    block_hash = await pool.fetchval("SELECT block_hash FROM orderflow_market_outcomes")
    async with pool.acquire() as conn:
        stats = await retract_block(conn, 137, 2, block_hash)
    assert stats.outcomes == 1
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT status, shares, realized_pnl FROM orderflow_positions")
    assert tuple(pos) == ("OPEN", buy["shares"], 0)


async def test_a_resolution_stored_again_with_other_payouts_settles_at_those(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The canonical chain resolves the market the other way: the position is settled again at
    0 a share, once (a later tick changes nothing)."""
    ex = make_executor()
    buy = await _settled(pool, ex, ["1", "0"])
    await _rollback(pool)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["0", "1"])
    await ex.maintenance()
    await ex.maintenance()
    bankroll = ex.registry.states["alpha"].bankroll
    lost = -(buy["usdc"] + buy["fee"])
    assert await _state(pool, ex) == (
        "CLOSED",
        "resolved",
        0,
        lost,
        lost,
        lost,
        bankroll + lost,
    )


async def test_the_same_resolution_stored_again_leaves_the_settlement_alone(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The reorg's canonical chain holds the same resolution (another block): between two ticks
    nothing changed for the position — it is neither reopened nor closed again."""
    ex = make_executor()
    await _settled(pool, ex, ["1", "0"])
    before = await pool.fetchrow("SELECT * FROM orderflow_positions")
    await _rollback(pool)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    assert dict(await pool.fetchrow("SELECT * FROM orderflow_positions")) == dict(before)


async def test_a_market_handed_back_to_gammas_resolution_settles_at_gammas_payout(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Gamma said the market resolved NO; the chain's resolution (YES) replaced it and a reorg
    orphaned that: the market is Gamma's resolution again (``rollback_sql.return_outcomes``),
    and the position settled at YES is settled again at Gamma's 0."""
    ex = make_executor()
    buy = await _settled(pool, ex, ["1", "0"])
    await pool.execute(
        "UPDATE orderflow_market_outcomes SET gamma_payouts = '{0,1}', gamma_resolved_at = now()"
    )
    await _rollback(pool)
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    lost = -(buy["usdc"] + buy["fee"])
    assert (pos["status"], pos["realized_pnl"]) == ("CLOSED", lost)
    assert pos["settled_payout"] == 0


async def test_a_settlement_undone_while_the_token_is_held_again_waits_for_that_position(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The resolution gone, the whale buys YES again and the strategy follows before the next
    tick: a second open position in the token (one OPEN per strategy and token), so the first
    cannot reopen yet. It stays queued, and once the market resolves NO and the second is
    settled, the first is reopened and settled at 0 too: neither keeps the YES payout."""
    ex = make_executor()
    await _settled(pool, ex, ["1", "0"])
    await _rollback(pool)
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    await ex.maintenance()
    rows = await pool.fetch("SELECT status, close_reason FROM orderflow_positions ORDER BY id")
    assert [tuple(r) for r in rows] == [("CLOSED", "resolved"), ("OPEN", None)]
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["0", "1"])
    await ex.maintenance()
    await ex.maintenance()
    rows = await pool.fetch(
        "SELECT p.status, p.close_reason, p.settled_payout, p.realized_pnl,"
        " -(sum(f.usdc) + sum(f.fee)) AS cost FROM orderflow_positions p"
        " JOIN orderflow_fills f ON f.position_id = p.id GROUP BY p.id ORDER BY p.id"
    )
    assert [tuple(r)[:3] for r in rows] == [("CLOSED", "resolved", 0)] * 2
    assert [r["realized_pnl"] for r in rows] == [r["cost"] for r in rows]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_settlements_to_check") == 0


async def test_a_rollback_during_the_settlement_is_not_settled_on(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """A rollback deletes the resolution (its trigger finds nothing settled yet) and commits
    while maintenance is settling on it: the settlement waits for the rollback, finds the
    resolution gone, and is not made — else the position settled on a deleted resolution with
    nothing left to queue its check."""
    ex = make_executor()
    await whale_buys(pool, ex)
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    async with pool.acquire() as rolling:
        tx = rolling.transaction()
        await tx.start()
        await rollback_from(rolling, 137, 2)  # uncommitted: the resolution's row locked
        settling = asyncio.create_task(ex.maintenance())

        async def blocked_or_done() -> bool:
            waiting = await pool.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
            return settling.done() or bool(waiting)

        await wait_for(blocked_or_done)
        await tx.commit()
        await settling
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT status, realized_pnl FROM orderflow_positions")
    assert tuple(pos) == ("OPEN", 0)


async def test_a_reopened_position_is_held_at_its_last_trade(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Reopened, the position is marked as any open one: at its token's last trade (the fill
    at 0.50 that filled it), not at the payout it no longer has."""
    ex = make_executor()
    buy = await _settled(pool, ex, ["0", "1"])
    await _rollback(pool)
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    price = await pool.fetchval(
        "SELECT price FROM orderflow_trades ORDER BY timestamp DESC, id DESC LIMIT 1"
    )
    assert (pos["status"], pos["mark_price"]) == ("OPEN", price)
    assert pos["unrealized_pnl"] == buy["shares"] * price - buy["usdc"] - buy["fee"]
    assert pos["unrealized_pnl"] > Decimal(-1) * (buy["usdc"] + buy["fee"])


async def test_a_live_settlement_whose_resolution_a_reorg_removed_is_undone(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Live alike: the shares bought on the CLOB are still in the wallet (the executor never
    redeems), and the position holding them is open again."""
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, price="0.50")
    buy = await pool.fetchrow("SELECT shares, usdc, fee, mode FROM orderflow_fills")
    assert buy["mode"] == "live"
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"
    await _rollback(pool)
    await ex.maintenance()
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["shares"], pos["realized_pnl"]) == ("OPEN", buy["shares"], 0)
    async with pool.acquire() as conn:
        book = await load_book(conn, ex.registry.states["live-one"], ex.clock())
    assert book.realized == 0 and set(book.open_positions) == {int(pos["token_id"])}


async def test_the_migration_gives_each_settled_position_its_payout(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Migration 071's backfill on positions settled before it: the payout stored now for
    their token; then nothing is stale and nothing reopens."""
    ex = make_executor()
    await _settled(pool, ex, ["0", "1"])
    await pool.execute("UPDATE orderflow_positions SET settled_payout = NULL")
    sql = (migrations_dir() / "071_position_settled_payout.sql").read_text()
    await pool.execute(sql[sql.index("UPDATE orderflow_positions") : sql.index("-- The settled")])
    assert await pool.fetchval("SELECT settled_payout FROM orderflow_positions") == 0
    await ex.maintenance()
    assert await pool.fetchval("SELECT status FROM orderflow_positions") == "CLOSED"


async def test_an_order_the_resolution_closed_stays_closed_after_a_reorg_took_it(
    pool: asyncpg.Pool, dsn: str
) -> None:
    """The paper exchange closed our resting exit at the market's resolution, as the real CLOB
    cancels what rests on a resolved market — an off-chain cancel no reorg undoes. A reorg
    then took the resolution away and a bid at the exit's limit showed up: the exit, CANCELED,
    is not filled, and the position, unresolved again, holds its shares."""
    ex, clock = clocked_executor(pool, dsn)
    sell = await exit_resting(pool, ex, orderTtlSecs=3600)
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    order = await pool.fetchrow("SELECT status FROM orderflow_orders WHERE id = $1", sell["id"])
    assert order["status"] == "CANCELED"
    await _rollback(pool)
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price=str(sell["price"]), shares=str(sell["shares"]))
    await ex.maintenance()
    clock.offset = LATE_FILLS + timedelta(minutes=1)
    await ex.maintenance()
    paper = await pool.fetchval(
        "SELECT sum(filled) FROM orderflow_paper_orders WHERE side = 'SELL'"
    )
    sold = await pool.fetchval("SELECT count(*) FROM orderflow_fills WHERE side = 'SELL'")
    pos = await pool.fetchrow("SELECT status, shares FROM orderflow_positions")
    assert (paper, sold) == (0, 0)
    assert (pos["status"], pos["shares"]) == ("OPEN", sell["shares"])
