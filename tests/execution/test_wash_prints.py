"""A wash pair's prints against the executor's prices (paper, on PostgreSQL).

Two colluding wallets trade between themselves far from the market (docs/reputation.md: a
quarter of Polymarket's volume). Their prints are on the tape like anyone's. Driven here:
the mark of an open position (the daily loss limit, the live orders' loss, the stored P&L)
and the exit's limit price.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution import position_queries
from orderflow.execution.book import load_book
from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import (
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_complements,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    follow,
    reveal,
    trade_at,
)
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes

# Colluding wallets (nobody scored them: their trades make no signal).
WASH_A = "0x" + "5a" * 20
WASH_B = "0x" + "5b" * 20


async def match(
    conn: asyncpg.Connection,
    taker: str,
    maker: str,
    price: str,
    at: datetime,
    *,
    token_id: int = TOKEN_YES,
    side: str = "BUY",
    usdc: str = "50",
) -> None:
    """One match as the listener stores it: the maker's row (its taker: ``taker``) and the
    taker's aggregate row, ``taker`` on ``side`` of ``token_id`` at ``price``."""
    other = "SELL" if side == "BUY" else "BUY"
    await add_trade(
        conn, wallet=maker, side=other, token_id=token_id, price=price, usdc=usdc, at=at,
        taker=False, counterparty=taker,
    )  # fmt: skip
    await add_trade(conn, wallet=taker, side=side, token_id=token_id, price=price, usdc=usdc, at=at)


async def _setup(pool: asyncpg.Pool) -> None:
    """Strategy ``alpha`` (daily loss limit 10), YES of ``MARKET``, a token of ``MARKET_B``,
    the scored whale."""
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", max_daily_loss=10.0)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET_B, 1)
        await add_wallet(conn, WHALE, 8.5)


async def _entered(pool: asyncpg.Pool, ex: Executor) -> int:
    """``alpha`` followed the whale's buy of YES at 0.50, filled: the position's id."""
    await _setup(pool)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    assert await fill_resting(pool, ex) == 1
    return int(await pool.fetchval("SELECT id FROM orderflow_positions"))


async def test_a_wash_print_does_not_lift_the_daily_loss_limit(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The position bought at 0.50 trades at 0.20 among three pairs: down past the limit, the
    whale's next buy is refused ``daily_loss_limit``. One print at 0.50 by a wash pair marked
    it at 0.50 on main: the loss read as none, the next buy taken, and the stored P&L 0."""
    ex = make_executor()
    position_id = await _entered(pool, ex)
    shares, cost = await pool.fetchrow(
        "SELECT shares, cost_basis FROM orderflow_positions WHERE id = $1", position_id
    )
    assert shares * Decimal("0.30") > 10  # at 0.20, past the limit
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        await trade_at(conn, "0.20", now)
        book = await load_book(conn, ex.registry.states["alpha"], now)
        assert book.day_pnl == shares * Decimal("0.20") - cost
        await match(conn, WASH_A, WASH_B, "0.50", now + timedelta(seconds=5))
        book = await load_book(conn, ex.registry.states["alpha"], now)
        assert book.day_pnl == shares * Decimal("0.20") - cost
        await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, outcome_index=1, price="0.40")
    await ex.catch_up()
    reason = await pool.fetchval(
        "SELECT reason FROM orderflow_signals WHERE token_id = $1", Decimal(TOKEN_NO)
    )
    assert reason == "daily_loss_limit"
    await ex.maintenance()
    mark, unrealized = await pool.fetchrow(
        "SELECT mark_price, unrealized_pnl FROM orderflow_positions WHERE id = $1", position_id
    )
    assert (mark, unrealized) == (Decimal("0.20"), shares * Decimal("0.20") - cost)


async def test_a_pair_printing_many_times_is_one_voice(pool: asyncpg.Pool) -> None:
    """A wash pair's ten prints, either wallet the taker, count as one pair's: the mark is the
    three honest pairs' 0.20 (the median of four pairs' latest prints, 0.20, 0.20, 0.20 and
    0.50: 0.20)."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await trade_at(conn, "0.20", now - timedelta(minutes=5))
        for n in range(10):
            taker, maker = (WASH_A, WASH_B) if n % 2 else (WASH_B, WASH_A)
            await match(conn, taker, maker, "0.50", now - timedelta(seconds=60 - n))
        mark = await conn.fetchval(f"SELECT {position_queries.mark_price('$1::numeric')}",
                                   Decimal(TOKEN_YES))  # fmt: skip
    assert mark == Decimal("0.20")


async def test_the_mark_follows_the_market(pool: asyncpg.Pool) -> None:
    """Not a stale median: when three pairs have traded at a new price since, the mark is it;
    a token traded by one pair only is marked at its last print; a resolved market at its
    payout."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await add_token(conn, TOKEN_YES, MARKET, 0)
        mark = f"SELECT {position_queries.mark_price('$1::numeric')}"
        assert await conn.fetchval(mark, Decimal(TOKEN_YES)) is None
        await match(conn, WASH_A, WASH_B, "0.31", now - timedelta(minutes=9))
        await match(conn, WASH_A, WASH_B, "0.30", now - timedelta(minutes=8))
        assert await conn.fetchval(mark, Decimal(TOKEN_YES)) == Decimal("0.30")
        await trade_at(conn, "0.20", now - timedelta(minutes=7))
        await trade_at(conn, "0.60", now - timedelta(minutes=5))
        assert await conn.fetchval(mark, Decimal(TOKEN_YES)) == Decimal("0.60")


async def test_an_exit_is_not_priced_at_a_wash_pairs_bid(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The whale sells at 0.48 where three pairs trade; in the same second a wash pair prints
    at 0.05 (its taker selling: a "bid" at 0.05). The exit is priced at the price the pairs
    trade at, 0.48 less the slippage (0.47), and the next bid at 0.48 fills it at 0.48. On
    main the wash pair's print was the latest bid: the exit went out at 0.04, and that bid
    filled it at 0.04 (it crossed the resting order) — 400 shares sold at a tenth of their
    price."""
    ex = make_executor()
    await _entered(pool, ex)
    now = datetime.now(UTC)  # after the ask that filled the entry
    async with pool.acquire() as conn:
        await trade_at(conn, "0.48", now)
        at = now + timedelta(seconds=3)
        await add_trade(conn, side="SELL", price="0.48", usdc="300", at=at)
        await match(conn, WASH_A, WASH_B, "0.05", at, side="SELL")
    await ex.catch_up()
    exit_price = await pool.fetchval("SELECT price FROM orderflow_orders WHERE side = 'SELL'")
    assert exit_price == Decimal("0.47")
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price="0.48", shares="1000")
    await ex.desk.reconcile()
    sold = await pool.fetchval("SELECT price FROM orderflow_fills WHERE side = 'SELL'")
    assert sold == Decimal("0.48")


async def test_a_live_exit_is_not_sent_at_a_wash_pairs_bid(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Live, on the CLOB stand-in: the book bids 0.49 for the position's exit; the whale sells
    at 0.48 where three pairs trade and, in the same second, a wash pair prints at 0.05. The
    SELL sent is limited at 0.47. On main it was sent at 0.04: marketable, so the real CLOB
    fills it down through the book as far as 0.04 where the bids are thin."""
    ex = await holding_yes(pool, dsn, clob, live)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await trade_at(conn, "0.48", now)
        at = now + timedelta(seconds=3)
        await add_trade(conn, side="SELL", price="0.48", usdc="300", at=at)
        await match(conn, WASH_A, WASH_B, "0.05", at, side="SELL")
    await ex.catch_up()
    await ex.worker.drain()
    sent = await pool.fetchrow("SELECT price, mode FROM orderflow_orders WHERE side = 'SELL'")
    assert (sent["price"], sent["mode"]) == (Decimal("0.47"), "live")


async def test_an_entry_is_not_priced_at_a_wash_pairs_ask(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """The whale buys YES at 0.50 where three pairs trade; a second later a wash pair prints
    at 0.05 (its taker buying: an "ask" at 0.05, the latest). The entry is priced and sized at
    0.50 (0.51 with the slippage). On main it was priced at the pair's 0.05: the model's
    probability is the price times (1 + edge), 0.055, under the 0.06 it would pay, and the
    follow was SKIPPED ``no_edge`` — one pair's print cost the strategy the trade (Kelly was
    not inflated: it scales with the same price)."""
    ex = make_executor()
    await _setup(pool)
    now = datetime.now(UTC) - timedelta(seconds=5)
    async with pool.acquire() as conn:
        await trade_at(conn, "0.50", now)
        await ex.registry.refresh(conn)
        at = now + timedelta(seconds=3)
        await add_trade(conn, price="0.50", usdc="600", at=at)
        await match(conn, WASH_A, WASH_B, "0.05", at + timedelta(seconds=1))
    await ex.catch_up()
    signal = await pool.fetchrow("SELECT reason, inputs FROM orderflow_signals")
    quoted = Decimal(signal["inputs"]["market"]["last_price"])
    assert (signal["reason"], quoted) == ("accepted", Decimal("0.50"))
    price, shares = await pool.fetchrow("SELECT price, shares FROM orderflow_orders")
    assert price == Decimal("0.51")
    async with pool.acquire() as conn:
        await match(conn, WASH_A, WASH_B, "0.05", datetime.now(UTC))
    await ex.desk.reconcile()
    # The pair's cross met the resting bid first (orderflow.execution.depth): at its limit.
    fill = await pool.fetchrow("SELECT price, shares FROM orderflow_fills")
    assert (fill["price"], fill["shares"]) == (Decimal("0.51"), shares)


async def test_a_mint_counts_at_its_mirror(pool: asyncpg.Pool) -> None:
    """A buyer of YES matched with a buyer of NO (a mint) leaves its maker rows in NO: they
    count for YES at 1 - their price. Read from YES's maker rows alone, the mark stayed at the
    transfers of an hour ago (0.20) while three pairs minted at 0.40 since."""
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await add_complements(conn)
        await trade_at(conn, "0.20", now - timedelta(hours=1))
        for n in range(3):
            taker, maker = "0x" + f"{0x41 + n:02x}" * 20, "0x" + f"{0x51 + n:02x}" * 20
            await add_trade(
                conn, wallet=maker, token_id=TOKEN_NO, outcome_index=1, price="0.60", at=now,
                taker=False, counterparty=taker,
            )  # fmt: skip
            await add_trade(conn, wallet=taker, price="0.40", at=now)
        mark = f"SELECT {position_queries.mark_price('$1::numeric')}"
        assert await conn.fetchval(mark, Decimal(TOKEN_YES)) == Decimal("0.40")


async def test_a_fresh_quote_is_not_held_to_an_old_tape(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Three pairs traded YES at 0.30 two hours ago; now the whale buys it at 0.60 from a
    maker. The quote (0.60) is held to the tape of the quote's own window only, where the
    whale's match is all there is: the entry is priced at 0.61. Held to every print, the
    tape said 0.30 and the entry was priced there, under anything offered."""
    ex = make_executor()
    await _setup(pool)
    async with pool.acquire() as conn:
        await trade_at(conn, "0.30", datetime.now(UTC) - timedelta(hours=2))
        await ex.registry.refresh(conn)
    async with pool.acquire() as conn:
        await match(conn, WHALE, WASH_B, "0.60", datetime.now(UTC), usdc="600")
    await ex.catch_up()
    assert await pool.fetchval("SELECT price FROM orderflow_orders") == Decimal("0.61")
