"""Settlement as an accountant checks it (an audit, 6 Dec 2026; each passes on the tree it was
written on): every held share pays its outcome's payout — 1 to the winner, 0 to the loser, 0.5
each in a market resolved 50/50 (numerators [1, 1]) — in a neg-risk market as in any other,
fees in the cost; and a partial sale before the resolution realizes its own part against the
average cost, which the sale leaves as it was, the rest at the payout."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import asyncpg
import pytest

from orderflow.execution.engine import Executor
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
    resolve,
    reveal,
)
from tests.execution.paperkit import clocked_executor, exit_resting, settled_yes

BANKROLL = Decimal(10_000)


@pytest.mark.parametrize(
    ("payouts", "paid"),
    [(["1", "0"], Decimal(1)), (["0", "1"], Decimal(0)), (["0.5", "0.5"], Decimal("0.5"))],
    ids=["won", "lost", "fifty-fifty"],
)
async def test_a_neg_risk_position_settles_at_its_payout(
    pool: asyncpg.Pool,
    make_executor: Callable[..., Executor],
    payouts: list[str],
    paid: Decimal,
) -> None:
    ex = make_executor()
    async with pool.acquire() as conn:
        await add_strategy(conn, "alpha", takerFeeRate=0.02)
        await add_token(conn, TOKEN_YES, MARKET, 0)
        await add_token(conn, TOKEN_NO, MARKET, 1)
        await conn.execute("UPDATE orderflow_tokens SET neg_risk = TRUE")
        await add_wallet(conn, WHALE, 8.5)
        await ex.registry.refresh(conn)
        await add_trade(conn, price="0.50", usdc="600")
    assert await ex.catch_up() == 1
    assert await fill_resting(pool, ex) == 1
    async with pool.acquire() as conn:
        await resolve(conn, MARKET, payouts)
    await ex.maintenance()
    fill = await pool.fetchrow("SELECT shares, usdc, fee FROM orderflow_fills")
    assert fill["fee"] > 0
    pos = await pool.fetchrow("SELECT * FROM orderflow_positions")
    pnl = fill["shares"] * paid - fill["usdc"] - fill["fee"]
    assert (pos["status"], pos["close_reason"], pos["settled_payout"]) == (
        "CLOSED",
        "resolved",
        paid,
    )
    assert (pos["realized_pnl"], pos["shares"], pos["cost_basis"]) == (pnl, 0, 0)
    assert await pool.fetchval("SELECT pnl FROM orderflow_signals") == pnl
    perf = await pool.fetchrow("SELECT * FROM orderflow_performance")
    assert (perf["realized_pnl"], perf["total_pnl"], perf["unrealized_pnl"]) == (pnl, pnl, 0)
    assert perf["equity"] == BANKROLL + pnl
    assert (perf["wins"], perf["losses"]) == ((1, 0) if pnl > 0 else (0, 1))


async def test_a_partial_sale_then_the_resolution(pool: asyncpg.Pool, dsn: str) -> None:
    """Bought 350.33 at 0.51 (fee 1.75094, floored to five decimals as the exchange charges it:
    cost 180.41924, 0.514998 a share); our exit at 0.59 sells 100 of them (fee 0.4838), then the
    market resolves YES while the rest of the exit rests. The sale realizes 58.5162 - 100/350.33
    of the cost = +7.016403; the 250.33 shares left keep their average cost and pay 1 each:
    +121.410557; 128.42696 in all."""
    ex, clock = clocked_executor(pool, dsn)
    sell = await exit_resting(pool, ex, orderTtlSecs=3600, takerFeeRate=0.02)
    bought = await pool.fetchrow("SELECT * FROM orderflow_positions")
    assert (bought["shares"], bought["cost_basis"]) == (
        Decimal("350.33"),
        Decimal("180.41924"),
    )
    async with pool.acquire() as conn:
        await reveal(conn, met="SELL", price=str(sell["price"]), shares="100")
    await ex.maintenance()
    part = await pool.fetchrow("SELECT * FROM orderflow_positions")
    sold = await pool.fetchrow("SELECT usdc, fee FROM orderflow_fills WHERE side = 'SELL'")
    assert (sold["usdc"], sold["fee"]) == (Decimal(59), Decimal("0.4838"))
    assert part["avg_price"] == bought["avg_price"]  # a sale leaves the average cost
    assert part["shares"] == Decimal("250.33")
    assert part["realized_pnl"] == Decimal("7.016403")
    relieved = bought["cost_basis"] * 100 / bought["shares"]  # the sold part of the cost
    assert part["cost_basis"] == (bought["cost_basis"] - relieved).quantize(Decimal("0.000001"))
    assert part["realized_pnl"] == (sold["usdc"] - sold["fee"] - relieved).quantize(
        Decimal("0.000001")
    )
    pos = await settled_yes(pool, ex, clock)
    assert (pos["status"], pos["close_reason"]) == ("CLOSED", "resolved")
    assert pos["realized_pnl"] == Decimal("7.016403") + Decimal("250.33") - part["cost_basis"]
    assert pos["realized_pnl"] == Decimal("128.42696")
    # What the cash did: paid 180.41924, received 58.5162 and 250.33.
    assert pos["realized_pnl"] == Decimal("58.5162") + Decimal("250.33") - Decimal("180.41924")
    perf = await pool.fetchrow("SELECT * FROM orderflow_performance")
    assert (perf["realized_pnl"], perf["total_pnl"], perf["trades"]) == (
        pos["realized_pnl"],
        pos["realized_pnl"],
        2,
    )
