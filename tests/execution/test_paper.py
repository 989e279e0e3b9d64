"""Trades in PostgreSQL -> signals -> paper fills -> positions -> settlement and performance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import asyncpg

from orderflow.execution.engine import Executor
from tests.execution.conftest import (
    DEGEN,
    MARKET,
    MARKET_B,
    TOKEN_NO,
    TOKEN_YES,
    WHALE,
    add_strategy,
    add_token,
    add_trade,
    add_wallet,
    fill_resting,
    resolve,
    trade_at,
)


async def _setup(pool: asyncpg.Pool, ex: Executor, **settings: object) -> None:
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", **settings)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET_B, 1)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await add_wallet(conn, DEGEN, 1.0, edge=-0.15, edge_se=0.03)
        await ex.registry.refresh(conn)


async def _panic_sell(conn: asyncpg.Connection, high_ago: timedelta, ask_ago: timedelta) -> None:
    """NO traded at 0.60 ``high_ago`` and a buyer paid an ask of 0.46 ``ask_ago``; now the degen
    dumps it at 0.45: a FADE_DEGEN signal."""
    for price, ago in (("0.60", high_ago), ("0.46", ask_ago)):
        await add_trade(
            conn,
            wallet="0x" + "99" * 20,
            token_id=TOKEN_NO,
            market=MARKET_B,
            price=price,
            outcome_index=1,
            at=datetime.now(UTC) - ago,
        )
    await add_trade(
        conn,
        wallet=DEGEN,
        side="SELL",
        token_id=TOKEN_NO,
        market=MARKET_B,
        price="0.45",
        outcome_index=1,
    )


async def test_follow_whale_paper_fill_settles_at_resolution(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex, takerFeeRate=0.02)
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1  # asks at the order's limit, as large as it
    async with pool.acquire() as conn:
        sig = await conn.fetchrow("SELECT * FROM orderflow_signals")
        assert sig["signal_type"] == "FOLLOW_WHALE" and sig["status"] == "EXECUTED"
        assert sig["reason"] == "filled" and sig["size_usdc"] > 0
        assert sig["inputs"]["wallet"]["edge"] == 0.10
        order = await conn.fetchrow("SELECT * FROM orderflow_orders")
        assert order["status"] == "FILLED" and order["mode"] == "paper"
        assert order["price"] == Decimal("0.51")  # 0.50 + 20 bps, up to the tick
        fill = await conn.fetchrow("SELECT * FROM orderflow_fills")
        assert fill["shares"] == order["shares"] and fill["price"] == Decimal("0.51")
        assert fill["usdc"] == (fill["shares"] * Decimal("0.51")).quantize(Decimal("0.000001"))
        fee = (fill["shares"] * Decimal("0.02") * Decimal("0.51") * Decimal("0.49")).quantize(
            Decimal("0.00001"), rounding=ROUND_DOWN
        )
        assert fill["fee"] == fee
        pos = await conn.fetchrow("SELECT * FROM orderflow_positions")
        assert pos["status"] == "OPEN" and pos["shares"] == fill["shares"]
        assert pos["cost_basis"] == fill["usdc"] + fill["fee"]
        assert pos["market_id"] == MARKET and pos["outcome_index"] == 0

        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    async with pool.acquire() as conn:
        pos = await conn.fetchrow("SELECT * FROM orderflow_positions")
        assert pos["status"] == "CLOSED" and pos["close_reason"] == "resolved"
        expected = fill["shares"] - fill["usdc"] - fill["fee"]
        assert pos["realized_pnl"] == expected and pos["shares"] == 0
        sig = await conn.fetchrow("SELECT * FROM orderflow_signals")
        assert sig["pnl"] == expected and sig["resolved_at"] is not None
        perf = await conn.fetchrow("SELECT * FROM orderflow_performance")
        assert perf["strategy"] == "alpha" and perf["trades"] == 1
        assert perf["wins"] == 1 and perf["losses"] == 0 and perf["win_rate"] == 1.0
        assert perf["realized_pnl"] == expected
        assert perf["equity"] == Decimal(10_000) + expected
        assert perf["max_drawdown"] == 0.0


async def test_losing_position_and_each_trade_processed_once(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex)
    async with pool.acquire() as conn:
        await add_trade(conn, token_id=TOKEN_NO, market=MARKET_B, price="0.40", outcome_index=1)
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    # Replays (polling, the late-commit sweep, a restarted executor) change nothing.
    assert await ex.catch_up(sweep=True) == 0
    fresh = make_executor()
    async with pool.acquire() as conn:
        await fresh.registry.refresh(conn)
    assert await fresh.catch_up(sweep=True) == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM orderflow_orders") == 1
        await resolve(conn, MARKET_B, ["1", "0"])
    await ex.maintenance()
    async with pool.acquire() as conn:
        pos = await conn.fetchrow("SELECT * FROM orderflow_positions")
        assert pos["status"] == "CLOSED" and pos["realized_pnl"] == -pos["fees_paid"] - (
            await conn.fetchval("SELECT usdc FROM orderflow_fills")
        )
        perf = await conn.fetchrow("SELECT * FROM orderflow_performance")
        assert perf["losses"] == 1 and perf["wins"] == 0 and perf["max_drawdown"] > 0


async def test_skip_reasons_recorded_from_stored_trades(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex, enableDegenFading=True, maxOpenPositions=1)
    other_market = "0x" + "c2" * 32
    async with pool.acquire() as conn:
        await add_token(conn, 333, other_market, 0)
        # stale: the fill happened 10 minutes ago
        await add_trade(conn, at=datetime.now(UTC) - timedelta(minutes=10))
        # resolved market
        await resolve(conn, other_market, ["0", "1"])
        await add_trade(conn, token_id=333, market=other_market)
        # price moved: a later trade in the token at 0.60 (> 0.50 + 0.03)
        t_moved = datetime.now(UTC) - timedelta(seconds=3)
        third_market = "0x" + "c3" * 32
        await add_token(conn, 444, third_market, 0)
        await add_trade(conn, token_id=444, market=third_market, price="0.50", at=t_moved)
        await add_trade(conn, wallet="0x" + "99" * 20, token_id=444, market=third_market,
                        price="0.60")  # fmt: skip
    await ex.catch_up()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT status, reason, token_id FROM orderflow_signals ORDER BY id"
        )
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("EXPIRED", "stale"),
        ("SKIPPED", "market_resolved"),
        ("SKIPPED", "price_moved"),
    ]
    # FADE_DEGEN from a panic sell: the token traded at 0.60 within the window, dumped at 0.45;
    # a buyer paid an ask of 0.46 just before (what the fade pays: docs/executor.md, the quote).
    async with pool.acquire() as conn:
        await _panic_sell(conn, timedelta(minutes=5), timedelta(minutes=2))
        # then a whale buy while one position is open: max_open_positions = 1
        await add_trade(conn, token_id=TOKEN_YES, price="0.40")
    await ex.catch_up()
    await fill_resting(pool, ex)
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT signal_type, status, reason, inputs FROM orderflow_signals ORDER BY id OFFSET 3"
        )
    assert [(r["signal_type"], r["status"], r["reason"]) for r in rows] == [
        ("FADE_DEGEN", "EXECUTED", "filled"),
        ("FOLLOW_WHALE", "SKIPPED", "max_open_positions"),
    ]
    assert rows[0]["inputs"]["market"]["window_high"] == "0.6000000000"


async def test_daily_loss_limit_counts_unrealized(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex, maxDailyLoss=50.0)
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50")
    await ex.catch_up()
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        shares = await conn.fetchval("SELECT shares FROM orderflow_positions")
        assert shares * Decimal("0.4") > 50  # a fall to 0.10 loses more than 50 USDC
        # the token now trades at 0.10: unrealized loss beyond the limit
        await trade_at(conn, "0.10", datetime.now(UTC))
        await add_token(conn, 555, "0x" + "c3" * 32, 0)
        await add_trade(conn, token_id=555, market="0x" + "c3" * 32, price="0.30")
    await ex.catch_up()
    async with pool.acquire() as conn:
        last = await conn.fetchrow("SELECT status, reason FROM orderflow_signals ORDER BY id DESC")
    assert (last["status"], last["reason"]) == ("SKIPPED", "daily_loss_limit")


async def test_exit_with_the_leader_closes_the_position(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    await _setup(pool, ex, enableDegenFading=True)
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50")
        # A panic sell by the degen (the token traded at 0.60 a minute ago, a buyer paid an ask
        # of 0.46 since): a FADE_DEGEN buy.
        await _panic_sell(conn, timedelta(seconds=60), timedelta(seconds=30))
    assert await ex.catch_up() == 2
    assert await fill_resting(pool, ex) == 2
    async with pool.acquire() as conn:
        # Someone else selling our token, and the whale selling a token we do not hold: nothing.
        await add_trade(conn, wallet="0x" + "99" * 20, side="SELL", price="0.55")
        await add_trade(conn, wallet=WHALE, side="SELL", token_id=333, market=None, price="0.5")
    assert await ex.catch_up() == 0
    async with pool.acquire() as conn:
        # (stamped after the asks that filled the entries: the latest prices are the leader's)
        await add_trade(
            conn, wallet=WHALE, side="SELL", price="0.60", usdc="300", at=datetime.now(UTC)
        )
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1  # a bid at the exit's limit
    async with pool.acquire() as conn:
        exit_sig = await conn.fetchrow("SELECT * FROM orderflow_signals WHERE side = 'SELL'")
        assert exit_sig["signal_type"] == "FOLLOW_WHALE" and exit_sig["status"] == "EXECUTED"
        assert exit_sig["inputs"]["exit"]["leader_sell_price"] == "0.6000000000"
        sell = await conn.fetchrow(
            "SELECT o.* FROM orderflow_orders o WHERE o.signal_id = $1", exit_sig["id"]
        )
        assert sell["side"] == "SELL" and sell["price"] == Decimal("0.59")  # 0.60 - 20 bps, down
        pos = await conn.fetchrow(
            "SELECT * FROM orderflow_positions WHERE token_id = $1", Decimal(TOKEN_YES)
        )
        buy = await conn.fetchrow(
            "SELECT * FROM orderflow_fills WHERE side = 'BUY' AND position_id = $1", pos["id"]
        )
        assert pos["status"] == "CLOSED" and pos["close_reason"] == "exit" and pos["shares"] == 0
        proceeds = (buy["shares"] * Decimal("0.59")).quantize(Decimal("0.000001"))
        assert pos["realized_pnl"] == proceeds - buy["usdc"] - buy["fee"]
        opener = await conn.fetchval(
            "SELECT pnl FROM orderflow_signals WHERE id = $1", pos["signal_id"]
        )
        assert opener == pos["realized_pnl"]
        # The faded position is held to resolution whatever the degen does next.
        await add_trade(
            conn,
            wallet=DEGEN,
            side="SELL",
            token_id=TOKEN_NO,
            market=MARKET_B,
            price="0.44",
            outcome_index=1,
        )
    await ex.catch_up()
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM orderflow_positions WHERE status = 'OPEN'")
            == 1
        )
        assert await conn.fetchval("SELECT count(*) FROM orderflow_orders WHERE side = 'SELL'") == 1


async def test_several_strategies_each_with_own_settings_bankroll_and_pnl(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "small", bankrollUsd=2000.0, maxPositionUsd=500.0)
        await add_strategy(conn, "picky", minWhaleScore=9.0)
        await add_strategy(
            conn, "big", bankrollUsd=50_000.0, maxPositionUsd=5000.0, maxMarketExposureUsd=10_000.0
        )
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_wallet(conn, WHALE, 8.5, edge=0.10, edge_se=0.02)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50")
    assert await ex.catch_up() == 2
    assert await fill_resting(pool, ex) == 2
    async with pool.acquire() as conn:
        sizes = dict(
            await conn.fetch(
                "SELECT strategy, size_usdc FROM orderflow_signals WHERE status = 'EXECUTED'"
            )
        )
        assert set(sizes) == {"small", "big"}  # "picky" follows only scores >= 9
        assert sizes["big"] > sizes["small"] * 20  # Kelly on each bankroll
        await resolve(conn, MARKET, ["1", "0"])
    await ex.maintenance()
    async with pool.acquire() as conn:
        perf = {r["strategy"]: r for r in await conn.fetch("SELECT * FROM orderflow_performance")}
    assert set(perf) == {"small", "picky", "big"}
    assert perf["picky"]["trades"] == 0 and perf["picky"]["realized_pnl"] == 0
    assert perf["big"]["realized_pnl"] > perf["small"]["realized_pnl"] > 0
    assert perf["small"]["equity"] == Decimal(2000) + perf["small"]["realized_pnl"]


async def test_a_fifty_fifty_resolution_pays_half_a_share(
    pool: asyncpg.Pool, make_executor: Callable[..., Executor]
) -> None:
    """Payout numerators [1, 1] (stored as payouts 0.5, 0.5): each held share pays 0.5, fees in
    the cost (an audit's check: passes on main too)."""
    ex = make_executor()
    await _setup(pool, ex, takerFeeRate=0.02)
    async with pool.acquire() as conn:
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, ["0.5", "0.5"])
    await ex.maintenance()
    fill = await pool.fetchrow("SELECT shares, usdc, fee FROM orderflow_fills")
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    assert pos["realized_pnl"] == fill["shares"] * Decimal("0.5") - fill["usdc"] - fill["fee"]
    assert fill["fee"] > 0
