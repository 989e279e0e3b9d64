"""An exit (SELL) resting on the exchange when the shares it sells leave the wallet: moved away
(a transfer, a merge, a redemption outside the executor), a buy that delivered them failing on
chain, or the exchange's approval of the wallet's conditional tokens revoked. The real CLOB's
validity monitor cancels such an order (Polymarket: orders are "continually monitored to make
sure they remain valid", balances and allowances included; docs/executor.md, "Orders the
exchange closes itself"); the stand-in does it too (``clob_events.ClobEvents.monitor``).

What the executor must do: book what the exit sold before the cancel once, close the exit
CANCELED, and not send exits in a loop for shares the wallet no
longer has. Shares moved out: the wallet's balance of the token, read before the next exit,
squares the books once (the rest sold for nothing, recorded apart: ``orderflow_wallet_moves``;
:mod:`orderflow.execution.wallet_shares`) and the exit sells what is left, if anything. Shares
held but not approved: the books stand, and an exit refused ``not enough balance / allowance``
again and again is tried hourly (``REFUSED_IN_A_ROW``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.cli.strategy_status import to_json, to_text
from orderflow.execution.live import LiveBroker
from orderflow.execution.status import strategy_status
from orderflow.signals.exits import REFUSED_IN_A_ROW
from tests.execution.conftest import TOKEN_YES
from tests.execution.exitkit import a_pass, resting_exit, sells_sent
from tests.execution.fake_clob import FakeClob


async def _sell_orders(pool: asyncpg.Pool) -> list[tuple[str, Decimal]]:
    rows = await pool.fetch(
        "SELECT status, filled_shares FROM orderflow_orders WHERE side = 'SELL' ORDER BY id"
    )
    return [(r["status"], r["filled_shares"]) for r in rows]


async def test_an_exit_cancelled_for_shares_not_approved_is_booked_once_and_not_looped(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange's approval of the wallet's shares revoked after a counterparty took 4 of the
    resting exit: the wallet still holds the rest (its balance says so), no SELL can settle."""
    ex, exit_id = await resting_exit(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    clob.fill(exit_id, Decimal(4))  # a counterparty takes 4 shares
    assert clob.revoke_share_approval() == [exit_id]
    for _ in range(REFUSED_IN_A_ROW + 3):
        await a_pass(pool, ex)
    orders = await _sell_orders(pool)
    assert orders[0] == ("CANCELED", Decimal(4))
    assert all(status == "REJECTED" for status, _ in orders[1:]), orders
    fills = await pool.fetch("SELECT side, shares, price FROM orderflow_fills ORDER BY id")
    assert [(f["side"], f["shares"]) for f in fills] == [("BUY", held), ("SELL", 4)]
    pos = await pool.fetchrow("SELECT status, shares, realized_pnl FROM orderflow_positions")
    assert pos is not None
    assert (pos["status"], pos["shares"]) == ("OPEN", held - 4)
    bought, sold = (f["price"] for f in fills)  # no fees in this market
    assert pos["realized_pnl"] == 4 * (sold - bought)  # the 4 sold, nothing for the rest
    # refused "not enough balance / allowance" REFUSED_IN_A_ROW times, then hourly: no loop
    assert sells_sent(clob) == 1 + REFUSED_IN_A_ROW
    assert set(clob.rejections) == {"not enough balance / allowance"}
    assert await pool.fetchval("SELECT count(*) FROM orderflow_wallet_moves") == 0


async def test_an_exit_cancelled_for_shares_moved_away_squares_the_books_once(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Every share left moved out of the wallet after a counterparty took 4 of the resting
    exit. Until 7 Dec 2026 the position stayed OPEN with shares the wallet no longer had, and
    an exit of them was sent and refused ``not enough balance / allowance`` REFUSED_IN_A_ROW
    times, then hourly, for as long as the market was open. Now the wallet's balance read
    before the next exit squares the books once: the rest booked as sold for nothing (its cost
    a loss, recorded apart as the move's), the position CLOSED ``left_wallet``, and nothing
    more is sent."""
    ex, exit_id = await resting_exit(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    clob.fill(exit_id, Decimal(4))
    assert clob.move_shares(TOKEN_YES, clob.holdings[TOKEN_YES]) == [exit_id]
    for _ in range(REFUSED_IN_A_ROW + 3):
        await a_pass(pool, ex)
    assert await _sell_orders(pool) == [("CANCELED", Decimal(4))]
    fills = await pool.fetch("SELECT side, shares, price FROM orderflow_fills ORDER BY id")
    assert [(f["side"], f["shares"]) for f in fills] == [("BUY", held), ("SELL", 4)]
    pos = await pool.fetchrow(
        "SELECT status, close_reason, shares, realized_pnl FROM orderflow_positions"
    )
    assert pos is not None
    assert tuple(pos)[:3] == ("CLOSED", "left_wallet", 0)
    bought, sold = (f["price"] for f in fills)  # no fees in this market
    moves = await pool.fetch("SELECT shares, cost, books, wallet FROM orderflow_wallet_moves")
    gone = (held - 4) * bought  # what the shares that left cost
    assert [tuple(m) for m in moves] == [(held - 4, gone, held - 4, 0)]
    # the 4 sold, and the rest sold for nothing: their cost lost, and recorded apart
    assert pos["realized_pnl"] == 4 * (sold - bought) - gone
    async with pool.acquire() as conn:  # reported apart
        status = await strategy_status(conn, "live-one", datetime.now(UTC), datetime.now(UTC))
    assert status is not None and status.left_wallet == (held - 4, gone)
    assert f"-{gone:,.2f}" in to_text(status)
    assert json.loads(to_json(status))["left_wallet"] == {
        "shares": f"{(held - 4).normalize():f}",
        "cost": f"{gone.normalize():f}",
    }
    assert sells_sent(clob) == 1  # the exit cancelled, nothing after it
    assert clob.rejections == []


async def test_an_exit_the_monitor_cancels_for_a_failed_buy_is_not_sent_again(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exit rests (the buy's shares credited at the match), and the buy's trade fails on
    chain: the shares never came, and the exchange's monitor cancels the exit before the
    executor reads the failure (``test_exit_trade_failed.py`` has the executor first). The
    exit is closed CANCELED as the exchange reports it, the position CLOSED ``trade_failed``
    with nothing, and no exit is sent again."""
    ex, exit_id = await resting_exit(pool, dsn, clob, live, mined=False)
    [entry] = clob.trades
    clob.settle(entry["id"], "RETRYING")
    await a_pass(pool, ex)
    clob.settle(entry["id"], "FAILED")
    assert clob.orders[exit_id]["status"] == "CANCELED"  # the monitor, at the failure
    for _ in range(3):
        await a_pass(pool, ex)
    assert await _sell_orders(pool) == [("CANCELED", Decimal(0))]
    pos = await pool.fetchrow(
        "SELECT status, close_reason, shares, realized_pnl FROM orderflow_positions"
    )
    assert pos is not None and tuple(pos) == ("CLOSED", "trade_failed", 0, 0)
    fills = await pool.fetch("SELECT side, reverses FROM orderflow_fills ORDER BY id")
    assert [f["side"] for f in fills] == ["BUY", "BUY"]  # the buy, and its reversal, once
    assert fills[1]["reverses"] is not None
    assert sells_sent(clob) == 1
    assert clob.rejections == []


async def test_an_exit_after_part_of_the_shares_moved_away_sells_what_is_left(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    ex, exit_id = await resting_exit(pool, dsn, clob, live)
    held = await pool.fetchval("SELECT shares FROM orderflow_positions")
    left = clob.holdings[TOKEN_YES] / 2
    assert clob.move_shares(TOKEN_YES, clob.holdings[TOKEN_YES] - left) == [exit_id]
    clob.markets[TOKEN_YES].bids[TOKEN_YES] = Decimal("0.48")  # a bid for the next exit
    for _ in range(REFUSED_IN_A_ROW + 3):
        await a_pass(pool, ex)
    sold = await pool.fetchval(
        "SELECT coalesce(sum(shares), 0) FROM orderflow_fills WHERE side = 'SELL'"
    )
    assert sold == left, f"sold {sold} of the {left} the wallet still holds"
    moves = await pool.fetch("SELECT shares, wallet FROM orderflow_wallet_moves")
    assert [tuple(m) for m in moves] == [(held - left, left)]  # once, whatever the passes
    pos = await pool.fetchrow("SELECT status, close_reason, shares FROM orderflow_positions")
    assert pos is not None and tuple(pos) == ("CLOSED", "exit", 0)
