"""Live strategies share one wallet (one funder): every live strategy's orders on it count
before a live order goes out (orderflow.execution.wallet). Against the CLOB stand-in, which
reports the wallet's collateral (``GET /balance-allowance``) and, like the real CLOB, matches a
wallet against itself."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.conftest import TOKEN_NO, TOKEN_YES, add_wallet, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import age_exits, live_executor, live_strategy, new_market

WHALE2 = "0x" + "b2" * 20  # scored 7.5: followed by beta (min 7), not by alpha (min 8)


async def _signals(pool: asyncpg.Pool, strategy: str) -> list[tuple[str, str, str]]:
    rows = await pool.fetch(
        "SELECT side, status, reason FROM orderflow_signals WHERE strategy = $1 ORDER BY id",
        strategy,
    )
    return [(r["side"], r["status"], r["reason"]) for r in rows]


def _posts(clob: FakeClob) -> int:
    return clob.requests.count(("POST", "/order"))


async def _live_buys(pool: asyncpg.Pool) -> list[tuple[str, str, Decimal]]:
    rows = await pool.fetch(
        "SELECT strategy, status, price * shares AS cost FROM orderflow_orders"
        " WHERE side = 'BUY' ORDER BY id"
    )
    return [(r["strategy"], r["status"], r["cost"]) for r in rows]


async def test_two_strategies_never_commit_more_than_the_wallet_holds(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha and beta each have a bankroll of 10,000; the wallet holds 100. Both follow the
    whale's buy of NO at 0.30 (the ask at 0.90: each entry rests, 72.46 alone). The first goes
    out; the second is cut to what the wallet has left (its cash capped by it), 27.54 at most
    (before: 72.46 sent, and refused by the exchange: 'not enough balance / allowance')."""
    clob.collateral = Decimal(100)
    await live_strategy(pool, "alpha", max_position_usd=100)
    await live_strategy(pool, "beta", max_position_usd=100)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    assert clob.rejections == []
    (first, second) = await _live_buys(pool)
    assert {first[0], second[0]} == {"alpha", "beta"}
    assert first[1:] == ("OPEN", Decimal("72.4625"))
    assert second[1] == "OPEN" and 5 * Decimal("0.31") <= second[2] <= 100 - first[2]
    assert ("GET", "/balance-allowance") in clob.requests


async def test_a_withdrawal_is_seen_by_the_decision_and_by_the_order(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha rests a BUY of 72.46 on a wallet of 1,000; another program withdraws down to 100.
    The next entry's decision could not read the balance (503): its stake, 72.46, is not cut,
    and the order's own read refuses it (``wallet_collateral``), nothing sent. The next one is
    cut to the 27.54 left."""
    clob.collateral = Decimal(1000)
    await live_strategy(pool, "alpha", max_position_usd=100, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    assert _posts(clob) == 1
    clob.collateral = Decimal(100)  # withdrawn
    async with pool.acquire() as conn:
        market, token = await new_market(clob, conn, 1, ask="0.99")
        market2, token2 = await new_market(clob, conn, 2, ask="0.99")
    clob.fail("GET", "/balance-allowance", 503, times=1)  # the decision's read
    await follow(pool, ex, token_id=token, market=market, price="0.30")
    await ex.worker.drain()
    assert _posts(clob) == 1
    assert (await _signals(pool, "alpha"))[-1][2].startswith("wallet_collateral: ")
    await follow(pool, ex, token_id=token2, market=market2, price="0.30")
    await ex.worker.drain()
    assert _posts(clob) == 2 and clob.rejections == []
    costs = [cost for _, status, cost in await _live_buys(pool) if status == "OPEN"]
    assert len(costs) == 2 and sum(costs) <= 100


async def test_a_balance_read_that_fails_refuses_the_entry(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """503, 429 and an answer the SDK's model refuses: each refuses the entry, nothing sent."""
    await live_strategy(pool, "alpha", max_position_usd=100, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    # twice each: the decision's read (its cash is then not capped) and the order's
    clob.fail("GET", "/balance-allowance", 503, times=2)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    clob.fail("GET", "/balance-allowance", 429, times=2, retry_after=1)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    clob.balance_patch = {"balance": "a lot"}
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    assert _posts(clob) == 0
    reasons = [r for _, _, r in await _signals(pool, "alpha")]
    assert len(reasons) == 3
    assert all(r.startswith("wallet_unread: balance read failed") for r in reasons), reasons


async def _two_leaders(pool: asyncpg.Pool) -> None:
    """alpha follows the whale (8.5) only; beta, added later, follows WHALE2 (7.5)."""
    await live_strategy(pool, "alpha", max_position_usd=100, min_whale_score=8)
    async with pool.acquire() as conn:
        await add_wallet(conn, WHALE2, 7.5)


async def test_a_buy_never_meets_our_resting_buy_of_the_other_outcome(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha rests a BUY of NO at ~0.30; beta follows a buy of YES at 0.72 (the book's ask far
    above): its limit and alpha's sum to more than 1, so the CLOB would mint the pair from our
    own two orders — a self-trade. Not sent (before: matched against alpha's order)."""
    await _two_leaders(pool)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.99")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    await live_strategy(pool, "beta", max_position_usd=100, min_whale_score=7)
    await follow(pool, ex, wallet=WHALE2, token_id=TOKEN_YES, price="0.72")
    await ex.worker.drain()
    assert clob.self_trades == []
    ((side, status, reason),) = await _signals(pool, "beta")
    assert (side, status) == ("BUY", "SKIPPED")
    assert reason.startswith("self_cross: "), reason


async def test_an_exit_never_sells_into_our_own_resting_buy(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha holds YES (filled at 0.50); beta rests a BUY of YES at ~0.45 following WHALE2.
    The whale alpha followed sells at 0.44: alpha's exit (no bid on the book) would sell to
    beta's order — our wallet trading with itself. Not sent; beta's order still rests, and the
    exit is tried again after its pause, as any exit left open: once beta's order is gone, it
    goes out."""
    await _two_leaders(pool)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_YES, price="0.50")
    await ex.worker.drain()
    await live_strategy(pool, "beta", max_position_usd=100, min_whale_score=7)
    await follow(pool, ex, wallet=WHALE2, token_id=TOKEN_YES, price="0.45")
    await ex.worker.drain()
    assert await _signals(pool, "beta") == [("BUY", "PENDING", "accepted")]  # resting
    await follow(pool, ex, side="SELL", token_id=TOKEN_YES, price="0.44")
    await ex.worker.drain()
    assert clob.self_trades == []
    side, status, reason = (await _signals(pool, "alpha"))[-1]
    assert (side, status) == ("SELL", "SKIPPED")
    assert reason.startswith("self_cross: "), reason
    (resting,) = [o for o, p in clob.orders.items() if p["status"] == "LIVE"]
    clob.fill(resting)  # someone else takes beta's BUY: nothing of ours rests there now
    await ex.desk.reconcile()
    await age_exits(pool, timedelta(minutes=1))  # the exit's pause has passed
    await ex.maintenance()
    await ex.worker.drain()
    side, status, reason = (await _signals(pool, "alpha"))[-1]
    assert (side, status, reason) == ("SELL", "PENDING", "exit_with_leader")  # sent, resting
    assert _posts(clob) == 3 and clob.self_trades == []


async def test_no_strategy_buys_the_outcome_another_holds(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """alpha holds NO (filled at the ask, 0.90); beta follows a buy of YES at 0.30 (the ask at
    0.31): on one wallet, a YES and a NO of one market is a pair worth 1 bought for more. Not
    sent (before: bought, the wallet held both)."""
    await _two_leaders(pool)
    clob.markets[TOKEN_YES].asks[TOKEN_YES] = Decimal("0.31")
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.90")
    await ex.worker.drain()
    assert clob.holdings.get(TOKEN_NO, 0) > 0
    await live_strategy(pool, "beta", max_position_usd=100, min_whale_score=7)
    await follow(pool, ex, wallet=WHALE2, token_id=TOKEN_YES, price="0.30")
    await ex.worker.drain()
    assert clob.holdings.get(TOKEN_YES, 0) == 0
    ((side, status, reason),) = await _signals(pool, "beta")
    assert (side, status) == ("BUY", "SKIPPED")
    assert reason.startswith("wallet_other_outcome: "), reason
