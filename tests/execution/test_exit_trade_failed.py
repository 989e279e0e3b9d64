"""An exit of a position whose buy is matched but not mined, when that buy's trade goes
MATCHED -> RETRYING -> FAILED (its shares never arrive). Live, against the CLOB stand-in.

The real CLOB may refuse a SELL of shares bought a moment ago (``not enough balance /
allowance``: the stand-in's ``credit_at_mined``), and exits go on at the usual pause while the
buy settles (docs/executor.md, "Exit with the leader"). When the buy fails for good, it is
reversed (``trade_status``): the position holds nothing, CLOSED ``trade_failed``. Audited here:
the exit is neither lost while the trade is RETRYING (tried again, not held), nor sent again
once the buy has failed (nothing to sell) — and, when the exchange took the exit (the shares
credited at the match) and the buy then failed, the exit left resting for shares that never
came is cancelled, not left to be matched as a sale from a position that holds nothing."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.engine import Executor
from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_YES, add_trade, follow, signal_outcomes, wait_for
from tests.execution.exitkit import a_pass, sells_sent
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import holding_yes, live_executor, live_strategy


async def _leader_sells(pool: asyncpg.Pool, ex: Executor) -> None:
    async with pool.acquire() as conn:
        await add_trade(conn, side="SELL", token_id=TOKEN_YES, price="0.49")
    await ex.catch_up()
    await ex.worker.drain()


async def _position(pool: asyncpg.Pool) -> tuple[str, str | None, object]:
    row = await pool.fetchrow("SELECT status, close_reason, shares FROM orderflow_positions")
    assert row is not None
    return row["status"], row["close_reason"], row["shares"]


async def test_an_exit_refused_while_the_buy_settles_and_the_buy_fails(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    clob.credit_at_mined = True  # the shares are sellable once mined: every exit refused
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    await _leader_sells(pool, ex)
    assert sells_sent(clob) == 1 and clob.rejections == ["not enough balance / allowance"]
    clob.settle(entry["id"], "RETRYING")
    await a_pass(pool, ex)
    # RETRYING: still settling, the exit is tried again at the usual pause (not lost)
    assert sells_sent(clob) == 2
    clob.settle(entry["id"], "FAILED")
    await ex.maintenance()  # the reversal
    await ex.worker.drain()
    tried = sells_sent(clob)
    for _ in range(3):
        await a_pass(pool, ex)
    assert sells_sent(clob) == tried, "an exit sent after the buy failed: nothing to sell"
    assert await _position(pool) == ("CLOSED", "trade_failed", 0)
    outcomes = await signal_outcomes(pool)
    assert outcomes[0] == ("BUY", "SKIPPED", "trade_failed")
    assert all(o[:2] == ("SELL", "SKIPPED") for o in outcomes[1:]), outcomes


async def test_an_exit_taken_while_the_buy_settles_and_the_buy_fails(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The exchange took the exit (the shares credited at the match), and it rests: nobody bids
    0.49 any more. The buy then fails: the exit is a SELL of shares the wallet never got. The
    exchange's validity monitor lags the failure here (``monitor_lags``): the executor reads it
    first and cancels the exit itself (the monitor first: ``test_exit_shares_gone.py``)."""
    clob.monitor_lags = True
    ex = await holding_yes(pool, dsn, clob, live)
    [entry] = clob.trades
    clob.markets[TOKEN_YES].bids.pop(TOKEN_YES)  # the exit rests
    await _leader_sells(pool, ex)
    assert sells_sent(clob) == 1
    exit_order = await pool.fetchrow(
        "SELECT status, exchange_order_id FROM orderflow_orders WHERE side = 'SELL'"
    )
    assert exit_order is not None and exit_order["status"] == "OPEN"
    clob.settle(entry["id"], "RETRYING")
    await a_pass(pool, ex)
    clob.settle(entry["id"], "FAILED")
    await a_pass(pool, ex)
    assert await _position(pool) == ("CLOSED", "trade_failed", 0)
    for _ in range(2):
        await a_pass(pool, ex)
    assert sells_sent(clob) == 1, "an exit sent again after the buy failed"
    exchange_id = exit_order["exchange_order_id"]

    async def cancelled() -> bool:
        row = await pool.fetchrow(
            "SELECT status, status_reason FROM orderflow_orders WHERE side = 'SELL'"
        )
        return row is not None and (row["status"], row["status_reason"]) == (
            "CANCELED",
            "trade_failed",
        )

    await wait_for(cancelled)
    resting = clob.orders[exchange_id]["status"]
    assert resting != "LIVE", "the exit rests on the exchange for shares that never came"
    await a_pass(pool, ex)
    assert sells_sent(clob) == 1  # nothing to sell: no exit again


async def test_an_exit_taken_and_one_trade_of_the_buy_fails(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The buy matched three makers (40, 25 and 35 shares), its rest cancelled when the leader
    sold; its exit of the 100 rests, and the 25-share trade fails: the exit is cancelled, and
    the next one sells the 75 left — once."""
    market = clob.markets[TOKEN_YES]
    market.ask_sizes[TOKEN_YES] = Decimal(100)
    market.ask_lots[TOKEN_YES] = [Decimal(40), Decimal(25), Decimal(35)]
    await live_strategy(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    entry = await pool.fetchrow("SELECT exchange_order_id FROM orderflow_orders")
    assert entry is not None
    _, failing, _ = [t["id"] for t in clob.trades if t["taker_order_id"] == entry[0]]
    market.bids.pop(TOKEN_YES, None)  # the exit rests
    await _leader_sells(pool, ex)

    async def entry_cancelled() -> bool:  # the entry's rest (leader-exit), then the exit
        status = await pool.fetchval("SELECT status FROM orderflow_orders WHERE side = 'BUY'")
        return bool(status == "CANCELED")

    await wait_for(entry_cancelled)
    await a_pass(pool, ex)
    first = await pool.fetchrow("SELECT id, shares FROM orderflow_orders WHERE side = 'SELL'")
    assert first is not None and first["shares"] == 100
    clob.settle(failing, "FAILED")
    await ex.maintenance()  # the reversal
    await ex.maintenance()  # the next pass sets the unheld-exit switch going

    async def cancelled() -> bool:
        status = await pool.fetchval("SELECT status FROM orderflow_orders WHERE id = $1", first[0])
        return bool(status == "CANCELED")

    await wait_for(cancelled)
    assert (await _position(pool))[::2] == ("OPEN", 75)
    for _ in range(3):
        await a_pass(pool, ex)
    sells = await pool.fetch(
        "SELECT shares, status FROM orderflow_orders WHERE side = 'SELL' ORDER BY id"
    )
    assert [(s["shares"], s["status"]) for s in sells] == [(100, "CANCELED"), (75, "OPEN")]
