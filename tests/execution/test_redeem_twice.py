"""A redemption is not sent twice: a SENT row whose wallet still holds the shares after
``SENT_WAIT`` is looked up first (an EOA's transaction on the node), and one sent by a pass that
stopped before storing its hash is not sent again while the wallet has a transaction pending.

The EOA world of tests/execution/test_redeem_live.py, anvil mining only when told
(``evm_setAutomine false``): the first redemption stays in the node's pool. Before 7 Dec 2026 a
SENT row still holding shares after ``SENT_WAIT`` was FAILED and sent again after its pause (two
transactions for one redemption: the second pays nothing, its gas spent), and one whose pass
stopped before it stored SENT was still PENDING and sent again by the next pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from orderflow.execution.engine import Executor
from orderflow.execution.redeem import FIRST_PAUSE, SENT_WAIT
from tests.execution.test_redeem_live import (
    WALLET,
    World,
    _eoa,
    chain_world,
    holding_a_win,
    later,
    redemption,
)


class Crash(BaseException):
    """The process stopping (a step-down, a kill) right after the send."""


@pytest.fixture
async def eoa() -> AsyncIterator[World]:
    async with chain_world(_eoa) as w:
        yield w


async def queued(w: World) -> int:
    """The wallet's transactions in the node's pool, not mined."""
    pending = await w.anvil.rpc("eth_getTransactionCount", WALLET, "pending")
    return int(pending, 16) - int(
        await w.anvil.rpc("eth_getTransactionCount", WALLET, "latest"), 16
    )


async def the_row(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await redemption(pool)
    assert row is not None, "no redemption row"
    return row


async def mine(w: World) -> None:
    await w.anvil.rpc("evm_mine")


async def done_after(ex: Executor, pool: asyncpg.Pool) -> asyncpg.Record:
    """The pass ``SENT_WAIT`` later finds the redemption through: its row DONE, redeemed."""
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["reason"]) == ("DONE", "redeemed")
    return row


async def test_a_pending_redemption_is_waited_for_not_sent_again(
    pool: asyncpg.Pool, dsn: str, eoa: World
) -> None:
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    await eoa.anvil.rpc("evm_setAutomine", False)
    await ex.maintenance()
    row = await the_row(pool)
    assert row["status"] == "SENT" and await queued(eoa) == 1
    first = row["tx_hash"]
    later(ex, SENT_WAIT)
    await ex.maintenance()  # still in the pool: waited for
    row = await the_row(pool)
    assert (row["status"], row["tx_hash"]) == ("SENT", first), row["reason"]
    assert row["reason"] == f"waiting: {first} pending"
    later(ex, SENT_WAIT + FIRST_PAUSE)
    await ex.maintenance()
    assert await queued(eoa) == 1  # nothing sent a second time
    await mine(eoa)
    row = await done_after(ex, pool)
    assert (await eoa.chain.collateral(WALLET), row["attempts"]) == (shares, 1)


async def test_a_dropped_redemption_is_sent_again_at_once(
    pool: asyncpg.Pool, dsn: str, eoa: World
) -> None:
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    await eoa.anvil.rpc("evm_setAutomine", False)
    await ex.maintenance()
    row = await the_row(pool)
    first = row["tx_hash"]
    await eoa.anvil.rpc("anvil_dropTransaction", first)  # the node forgot it
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 2), row["reason"]
    assert await queued(eoa) == 1  # (the same transaction signed again: the same hash)
    assert await eoa.anvil.rpc("eth_getTransactionByHash", row["tx_hash"]) is not None
    await mine(eoa)
    assert await eoa.chain.collateral(WALLET) == shares


async def test_a_redemption_sent_before_a_crash_is_not_sent_again(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    await eoa.anvil.rpc("evm_setAutomine", False)
    send = eoa.broker.redeem

    async def sent_then_stopped(condition: str, memo: str) -> str:
        await send(condition, memo)
        raise Crash

    monkeypatch.setattr(eoa.broker, "redeem", sent_then_stopped)
    with pytest.raises(Crash):
        await ex.maintenance()
    monkeypatch.setattr(eoa.broker, "redeem", send)
    assert await queued(eoa) == 1
    row = await the_row(pool)
    assert (row["status"], row["tx_hash"]) == ("SENT", None), row["status"]
    await ex.maintenance()  # the next pass (the new leader's)
    later(ex, SENT_WAIT + FIRST_PAUSE)
    await ex.maintenance()  # the wallet has a transaction pending: waited for
    assert await queued(eoa) == 1
    row = await the_row(pool)
    assert row["status"] == "SENT", row["reason"]
    await mine(eoa)
    row = await done_after(ex, pool)
    assert await eoa.chain.collateral(WALLET) == shares


async def test_a_stop_before_the_send_leaves_it_to_be_sent_later(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side: stopped after the row was marked but before anything went out, the row is
    sent once ``SENT_WAIT`` shows nothing of the wallet pending."""
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    send = eoa.broker.redeem

    async def stopped(condition: str, memo: str) -> str:
        raise Crash

    monkeypatch.setattr(eoa.broker, "redeem", stopped)
    with pytest.raises(Crash):
        await ex.maintenance()
    monkeypatch.setattr(eoa.broker, "redeem", send)
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 2), row["reason"]
    assert await eoa.chain.collateral(WALLET) == shares
