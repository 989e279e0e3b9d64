"""A strategy switched from paper to live: the live limits count the live positions and orders
only. Paper's P&L is the paper wallet's, not the money the live wallet has: before (until 4 Dec
2026) the cash cap (bankroll + realized - open cost), Kelly's bankroll (bankroll + min(0,
realized)) and the daily loss summed both modes, so a paper profit let live stakes add up to
more than ``bankroll_usd``, a paper loss shrank the first live stake, and today's paper gain
widened the live daily-loss budget."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.cli.strategy_status import to_text
from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from orderflow.execution.status import strategy_status
from orderflow.execution.strategies import state_of
from orderflow.execution.strategy_queries import strategy_row
from orderflow.migrate import migrations_dir
from tests.execution.conftest import (
    MARKET,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    resolve,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, new_market

NAME = "switched"
OTHER = "0x" + "0c" * 20  # a wallet nobody scored: its trades only mark prices
SECOND = "0x" + "5e" * 20  # another whale
# A whale with a large edge, the full Kelly fraction: each buy stakes half the bankroll (the
# full-Kelly cap, 0.5), 500 of 1,000.
# The tape's quote once live (livekit.live_strategy): the stand-in's new markets show no ask.
SETTINGS = {
    "bankroll_usd": 1000.0,
    "max_position_usd": 1000.0,
    "kelly_fraction": 1.0,
    "quote_from": "tape",
}
SWITCH = (
    "UPDATE orderflow_strategies SET settings = settings || jsonb_build_object('mode', $2::text),"
    " generation = generation + 1 WHERE name = $1"
)


async def _paper_then_live(
    pool: asyncpg.Pool, dsn: str, live: LiveBroker, payouts: list[str], **settings: object
) -> tuple[Executor, Decimal]:
    """On paper, the whale's buy of YES followed (500 at 0.50), filled and resolved at
    ``payouts`` (today); then the strategy is switched to live. The executor and paper's P&L."""
    async with pool.acquire() as conn:
        await add_strategy(conn, NAME, mode="paper", **{**SETTINGS, **settings})
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_YES + 1, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.80, edge_se=0.05)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, payouts)
    await ex.maintenance()
    paper = Decimal(await pool.fetchval("SELECT sum(realized_pnl) FROM orderflow_positions"))
    await pool.execute(SWITCH, NAME, "live")
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    return ex, paper


async def _live_orders(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            "SELECT shares, price FROM orderflow_orders WHERE mode = 'live' ORDER BY id"
        )
    )


async def _last_signal(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow("SELECT * FROM orderflow_signals ORDER BY id DESC LIMIT 1")
    assert row is not None
    return row


async def test_paper_profit_does_not_raise_the_live_cash(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Paper made ~500; live, four whale buys at 0.30 rest at the CLOB: three (~333 each) take
    the whole bankroll and the fourth is refused ``bankroll_spent`` (before: a fourth order,
    ~1,333 of live stakes on a 1,000 bankroll, paid with paper's profit)."""
    ex, paper = await _paper_then_live(pool, dsn, live, ["1", "0"])
    assert paper > Decimal(400)
    await buys_in_new_markets(pool, clob, 4)
    await ex.catch_up()
    orders = await _live_orders(pool)
    committed = sum((o["shares"] * o["price"] for o in orders), Decimal(0))
    assert committed <= Decimal(1000), f"{len(orders)} live orders worth {committed} on 1000"
    assert len(orders) == 3
    last = await _last_signal(pool)
    assert (last["status"], last["reason"]) == ("SKIPPED", "bankroll_spent")


async def test_paper_loss_does_not_shrink_the_first_live_stake(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Paper lost ~500; the first live stake (a buy at 0.30) is Kelly's fraction of the bankroll
    alone, ~333 of 1,000 (before: ~167, the same fraction of the ~500 paper had left)."""
    ex, paper = await _paper_then_live(pool, dsn, live, ["0", "1"], max_daily_loss=5000.0)
    assert paper < Decimal(-400)
    await buys_in_new_markets(pool, clob, 1)
    await ex.catch_up()
    sig = await _last_signal(pool)
    assert (sig["status"], sig["reason"]) == ("PENDING", "accepted"), sig["reason"]
    stake = Decimal(sig["inputs"]["sizing"]["stake_usd"])
    assert Decimal(333) < stake < Decimal(334), f"staked {stake} after paper's {paper}"
    assert Decimal(sig["inputs"]["book"]["realized"]) == 0


async def test_paper_gain_today_does_not_widen_the_live_daily_loss(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Paper made ~500 today; live bought 500 at 0.30 and the price fell to 0.25 (~-83 today,
    the limit 50): the next whale buy is refused ``daily_loss_limit`` (before: day P&L ~+417,
    paper's gain counted, and it was bought). The status shows the live day's P&L beside the
    limit, and the whole strategy's realized P&L."""
    ex, paper = await _paper_then_live(pool, dsn, live, ["1", "0"], max_daily_loss=50.0)
    assert paper > Decimal(400)
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1, ask="0.30")
        await add_trade(conn, token_id=token, market=market, price="0.30")
    await ex.catch_up()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_positions WHERE status = 'OPEN'")
    async with pool.acquire() as conn:
        await add_trade(conn, wallet=OTHER, token_id=token, market=market, price="0.25")
        row = await strategy_row(conn, NAME)
        assert row is not None
        state = await state_of(conn, row)
        book = await load_book(conn, state, datetime.now(UTC))
        status = await strategy_status(conn, NAME, datetime.now(UTC), datetime.now(UTC))
    assert book.day_pnl < Decimal(-50), f"live day P&L {book.day_pnl}, paper's {paper} counted"
    assert book.realized == 0 and book.cash is not None and book.cash < Decimal(1000)
    assert status is not None and status.day_pnl == book.day_pnl and status.cash == book.cash
    assert status.realized_pnl > Decimal(400)  # the strategy's, both modes
    assert status.realized_by_mode == {"live": 0, "paper": paper}
    lines = to_text(status).splitlines()
    today = next(line for line in lines if line.split()[:2] == ["today's", "P&L"])
    assert "live positions and orders" in today
    assert any(line.split()[:1] == ["live"] for line in lines)  # the position's MODE
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 2)
        await add_trade(conn, token_id=token, market=market, price="0.30")
    await ex.catch_up()
    last = await _last_signal(pool)
    assert (last["status"], last["reason"]) == ("SKIPPED", "daily_loss_limit")


async def test_the_migration_gives_each_position_the_mode_of_its_first_fill(
    pool: asyncpg.Pool, dsn: str, live: LiveBroker
) -> None:
    """Migration 069's backfill on positions booked before it (their mode unset): the mode of
    each one's first fill; a position without a fill stays unset."""
    await _paper_then_live(pool, dsn, live, ["1", "0"])
    await pool.execute(
        "INSERT INTO orderflow_positions (strategy, token_id) VALUES ($1, $2)", NAME, Decimal(7)
    )
    await pool.execute("UPDATE orderflow_positions SET mode = NULL")
    sql = (migrations_dir() / "069_position_mode.sql").read_text()
    await pool.execute(sql[sql.index("UPDATE orderflow_positions") :])
    modes = await pool.fetch("SELECT mode FROM orderflow_positions ORDER BY id")
    assert [r["mode"] for r in modes] == ["paper", None]


async def test_no_entry_in_a_token_held_in_the_other_mode(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Live dust (3 shares, under the minimum of 5: the exit could not sell them), then the
    strategy is switched to paper. Dust takes new entries in its mode, but a paper entry in the
    token would be booked into the live position (one open position per token): paper shares
    exited at the CLOB, live shares counted in paper's cash. Refused ``position_exists``
    (before: the paper fill was booked into the live position)."""
    async with pool.acquire() as conn:
        # the tape's quote: on the book's, an entry buys no more than the 3 shares offered,
        # under the minimum, and makes no dust
        await add_strategy(conn, NAME, mode="live", quote_from="tape")
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_YES + 1, MARKET, 1)
        await add_wallet(conn, WHALE, 8.5)
        await add_wallet(conn, SECOND, 8.5)
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(3)
    market.bids[TOKEN_YES] = Decimal("0.49")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.left_behind.wait()
    await ex.maintenance()
    held = await pool.fetchrow("SELECT status, shares, mode FROM orderflow_positions")
    assert tuple(held) == ("OPEN", 3, "live")
    await pool.execute(SWITCH, NAME, "paper")
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
        await add_trade(conn, wallet=SECOND, token_id=TOKEN_YES, price="0.50")
    await ex.catch_up()
    await ex.worker.drain()
    await fill_resting(pool, ex)
    fills = await pool.fetch("SELECT DISTINCT mode FROM orderflow_fills")
    assert [r["mode"] for r in fills] == ["live"]
    last = await _last_signal(pool)
    assert (last["status"], last["reason"]) == ("SKIPPED", "position_exists")
