"""A live BUY spends what the wallet allows the exchange that settles its market: a neg-risk
market's orders are settled by the neg-risk CTF exchange, a standard market's by the CTF
exchange, and ``GET /balance-allowance`` reports the wallet's collateral allowance to each
(orderflow.execution.wallet). Against the CLOB stand-in, which bounds a BUY by that allowance
as the real exchange does (``not enough balance / allowance``)."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.execution.live import LiveBroker
from tests.execution.clob_market import Market
from tests.execution.clob_signing import NEG_RISK_EXCHANGE, STANDARD_EXCHANGE
from tests.execution.conftest import TOKEN_NO, add_token, follow
from tests.execution.fake_clob import FakeClob
from tests.execution.livekit import buys_in_new_markets, live_executor, live_strategy

NEG_MARKET = "0x" + "4e" * 32
NEG_TOKEN = int("5" * 70)


async def _neg_risk_market(pool: asyncpg.Pool, clob: FakeClob) -> None:
    """A neg-risk market whose ask (0.99) is far above the whale's price: a BUY rests."""
    clob.add_market(
        Market(NEG_MARKET, (NEG_TOKEN, NEG_TOKEN + 1), neg_risk=True, asks={NEG_TOKEN: Decimal(1)})
    )
    async with pool.acquire() as conn:
        await add_token(conn, NEG_TOKEN, NEG_MARKET, 0)
        await add_token(conn, NEG_TOKEN + 1, NEG_MARKET, 1)


async def _buys(pool: asyncpg.Pool) -> list[tuple[int, str, Decimal]]:
    rows = await pool.fetch(
        "SELECT token_id, status, price * shares AS cost FROM orderflow_orders"
        " WHERE side = 'BUY' ORDER BY id"
    )
    return [(int(r["token_id"]), r["status"], r["cost"]) for r in rows]


async def _reasons(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT reason FROM orderflow_signals ORDER BY id")
    return [str(r["reason"]) for r in rows]


async def test_a_neg_risk_buy_is_cut_to_the_neg_risk_exchanges_allowance(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The wallet holds 1,000 and allows the CTF exchange all of it, the neg-risk exchange 20.
    A BUY in a neg-risk market is cut to the 20 its exchange may take, and goes out (before:
    sized on the largest allowance, 72.46, and refused by the exchange, 'not enough balance /
    allowance'); a BUY in a standard market is not cut by it."""
    clob.collateral = Decimal(1000)
    clob.allowances = {NEG_RISK_EXCHANGE.lower(): Decimal(20)}
    await live_strategy(pool, "alpha", max_position_usd=100, max_open_positions=10)
    await _neg_risk_market(pool, clob)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=NEG_TOKEN, market=NEG_MARKET, price="0.30")
    await ex.worker.drain()
    assert clob.rejections == []
    ((token, status, cost),) = await _buys(pool)
    assert (token, status) == (NEG_TOKEN, "OPEN")
    assert 5 * Decimal("0.31") <= cost <= 20
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    assert clob.rejections == []
    assert (await _buys(pool))[1] == (TOKEN_NO, "OPEN", Decimal("72.4625"))


async def test_a_buy_whose_exchange_the_reply_does_not_name_is_refused(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """The balance read names the CTF exchange's allowance only: the neg-risk exchange's is not
    known, so a BUY in a neg-risk market is refused (``wallet_collateral``, the reason naming
    the exchange whose allowance was not reported), nothing sent (before: the largest allowance
    stood for it, and the order went out)."""
    clob.balance_patch = {"allowances": {STANDARD_EXCHANGE: str(2**256 - 1)}}
    await live_strategy(pool, "alpha", max_position_usd=100)
    await _neg_risk_market(pool, clob)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=NEG_TOKEN, market=NEG_MARKET, price="0.30")
    await ex.worker.drain()
    assert clob.requests.count(("POST", "/order")) == 0
    (reason,) = await _reasons(pool)
    assert reason.startswith("wallet_collateral: "), reason
    assert f"no allowance to {NEG_RISK_EXCHANGE.lower()} reported" in reason, reason


async def test_one_balance_read_per_entry(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """One entry decided and sent: the wallet is read once (the decision's read serves the
    order's check; before: read again just before the order, two reads)."""
    clob.collateral = Decimal(1000)
    await live_strategy(pool, "alpha", max_position_usd=100)
    ex = live_executor(pool, dsn, live)
    await follow(pool, ex, token_id=TOKEN_NO, outcome_index=1, price="0.30")
    await ex.worker.drain()
    assert (await _buys(pool))[0][1] == "OPEN"
    assert clob.requests.count(("GET", "/balance-allowance")) == 1


async def test_a_batch_of_two_entries_reads_the_wallet_twice(
    pool: asyncpg.Pool, dsn: str, clob: FakeClob, live: LiveBroker
) -> None:
    """Two entries decided in one batch: the decision's read serves the first one's check, the
    second reads again (the first went out since: a fill at its placement moves the balance).
    Two reads for two entries (before: three, the decision's and each order's)."""
    clob.collateral = Decimal(1000)
    await live_strategy(pool, "alpha", max_position_usd=100, max_open_positions=10)
    ex = live_executor(pool, dsn, live)
    async with pool.acquire() as conn:
        await ex.registry.refresh(conn)
    await buys_in_new_markets(pool, clob, 2)  # the ask far above: each entry rests
    await ex.catch_up()
    await ex.worker.drain()
    assert [status for _, status, _ in await _buys(pool)] == ["OPEN", "OPEN"], await _reasons(pool)
    assert clob.rejections == []
    assert clob.requests.count(("GET", "/balance-allowance")) == 2
