"""A redemption whose send raised after it went out is in doubt, not FAILED: looked up before
anything is sent again; a relayed one whose id was never stored is found again by its metadata.

The EOA world of tests/execution/test_redeem_twice.py (anvil mining only when told): the node
takes the signed transaction into its pool and the answer is lost — the connection dropped, a
gateway's 502 — so the SDK's ``redeem_positions`` raises although the transaction is on its way.
Before 7 Dec 2026 the row was FAILED and, after its pause, sent again without a look at the
first: a second transaction (the wallet's next nonce), its gas spent for nothing. Through the
relayer (tests/execution/relayer_standin.py) the same, and a relayed send whose id was never
stored (the answer lost, the pass stopped before the record) was sent again after ``SENT_WAIT``:
nothing was looked up without the id — a second relayer transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from polymarket.errors import TransportError

from orderflow.execution.engine import Executor
from orderflow.execution.redeem import FIRST_PAUSE, SENT_WAIT
from tests.execution.test_redeem_live import WALLET, World, _eoa, chain_world, holding_a_win, later
from tests.execution.test_redeem_relayer import PROXY, Relayed, relayed
from tests.execution.test_redeem_twice import done_after, mine, queued, the_row


@pytest.fixture
async def eoa() -> AsyncIterator[World]:
    async with chain_world(_eoa) as w:
        yield w


@pytest.fixture
async def proxy(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Relayed]:
    async with relayed(monkeypatch, PROXY) as r:
        yield r


def answer_lost(w: World, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    """The node carries out ``method`` and its answer never arrives (the connection dropped)."""
    transport: Any = w.broker.client._ctx.rpc._transport
    post = transport.post_json

    async def lost(path: str, **kwargs: Any) -> Any:
        answer = await post(path, **kwargs)
        body = kwargs.get("json")
        if isinstance(body, dict) and body.get("method") == method:
            raise TransportError("connection reset by peer")
        return answer

    monkeypatch.setattr(transport, "post_json", lost)


async def _sent_answer_lost(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> tuple[Executor, int]:
    """A win held, the node mining only when told; a pass sends the redemption and the node's
    answer to it is lost. The executor and the wallet's winning shares."""
    ex = await holding_a_win(pool, dsn, eoa)
    shares = await eoa.chain.shares(WALLET, eoa.tokens[0])
    await eoa.anvil.rpc("evm_setAutomine", False)
    with monkeypatch.context() as m:
        answer_lost(eoa, m, "eth_sendRawTransaction")
        await ex.maintenance()
    return ex, shares


async def test_a_redemption_whose_answer_was_lost_is_not_sent_again(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ex, shares = await _sent_answer_lost(pool, dsn, eoa, monkeypatch)
    assert await queued(eoa) == 1  # it went out
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    later(ex, SENT_WAIT)
    await ex.maintenance()  # still in the pool: waited for
    assert await queued(eoa) == 1  # nothing sent a second time
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 1), row["reason"]
    assert row["reason"] == f"waiting: {row['tx_hash']} pending"
    assert await eoa.anvil.rpc("eth_getTransactionByHash", row["tx_hash"]) is not None
    await mine(eoa)
    row = await done_after(ex, pool)
    assert (await eoa.chain.collateral(WALLET), row["attempts"]) == (shares, 1)


async def test_a_lost_answer_of_a_transaction_the_node_dropped_is_sent_again(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other side: the look-up by its hash finds the node forgot it, so it is sent again
    at once (not held back for ever)."""
    ex, shares = await _sent_answer_lost(pool, dsn, eoa, monkeypatch)
    row = await the_row(pool)
    assert row["status"] == "SENT" and row["tx_hash"] is not None, row["reason"]
    await eoa.anvil.rpc("anvil_dropTransaction", row["tx_hash"])
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 2), row["reason"]
    assert await queued(eoa) == 1
    await mine(eoa)
    assert await eoa.chain.collateral(WALLET) == shares


async def test_a_send_refused_before_it_went_out_is_failed(
    pool: asyncpg.Pool, dsn: str, eoa: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: a failure before the signed transaction was handed to the node (its gas
    estimate's answer lost) sent nothing: FAILED and tried again after its pause, as before."""
    ex = await holding_a_win(pool, dsn, eoa)
    with monkeypatch.context() as m:
        answer_lost(eoa, m, "eth_estimateGas")
        await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("FAILED", 1)
    assert "connection reset" in row["reason"]
    assert await eoa.chain.collateral(WALLET) == 0
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    assert await eoa.chain.collateral(WALLET) > 0


class Crash(BaseException):
    """The process stopping (a step-down, a kill) right after the send."""


async def test_a_relayed_redemption_whose_answer_was_lost_is_not_submitted_again(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    """The relayer took the submit (left ``STATE_NEW``) and its answer was a gateway's 502: the
    id never came back. The look-up finds it among the key owner's recent transactions by the
    metadata it was sent with."""
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.hold, relayer.lose_next_answer = True, True
    await ex.maintenance()
    later(ex, FIRST_PAUSE)
    await ex.maintenance()
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await _waited_for_then_redeemed(ex, pool, proxy)
    assert row["attempts"] == 1


async def test_a_relayed_redemption_stopped_before_its_id_was_stored_is_not_submitted_again(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.hold = True
    send = w.broker.redeem

    async def sent_then_stopped(*args: Any) -> str:
        await send(*args)
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(w.broker, "redeem", sent_then_stopped)
        with pytest.raises(Crash):
            await ex.maintenance()
    await ex.maintenance()  # the next pass (the new leader's)
    later(ex, SENT_WAIT)
    await ex.maintenance()
    later(ex, SENT_WAIT + FIRST_PAUSE)
    await ex.maintenance()
    row = await _waited_for_then_redeemed(ex, pool, proxy)
    assert row["tx_hash"] is None


async def test_a_relayed_redemption_stopped_before_the_submit_is_sent_later(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Control: stopped after the row was marked but before anything went out, the relayer has
    no transaction named so: sent once ``SENT_WAIT`` has passed."""
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)

    async def stopped(*_: Any) -> str:
        raise Crash

    with monkeypatch.context() as m:
        m.setattr(w.broker, "redeem", stopped)
        with pytest.raises(Crash):
            await ex.maintenance()
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 2), row["reason"]
    assert len(relayer.submitted) == 1 and await w.chain.collateral(PROXY) > 0


async def test_a_relayed_redemption_in_doubt_waits_while_the_relayer_cannot_be_asked(
    pool: asyncpg.Pool, dsn: str, proxy: Relayed
) -> None:
    """Control: its answer lost and the relayer's list failing, nothing tells whether it was
    taken: it waits (SENT, looked at again later), never a blind second submit."""
    w, relayer = proxy.world, proxy.relayer
    ex = await holding_a_win(pool, dsn, w, wallet=PROXY)
    relayer.hold, relayer.lose_next_answer, relayer.list_fails = True, True, True
    await ex.maintenance()
    later(ex, SENT_WAIT)
    await ex.maintenance()
    row = await the_row(pool)
    assert (row["status"], row["attempts"]) == ("SENT", 1), row["reason"]
    assert row["reason"].startswith("waiting: redemption not looked up: RequestRejectedError")
    assert len(relayer.submitted) == 1
    relayer.list_fails = False
    await relayer.release()
    row = await done_after(ex, pool)
    assert len(relayer.submitted) == 1


async def _waited_for_then_redeemed(
    ex: Executor, pool: asyncpg.Pool, proxy: Relayed
) -> asyncpg.Record:
    """The relayer holds one transaction, the row SENT and waiting for it (nothing submitted a
    second time); released, the next pass finds it through. The row while it waited."""
    relayer = proxy.relayer
    assert len(relayer.submitted) == 1  # no second relayer transaction
    row = await the_row(pool)
    assert row["status"] == "SENT", row["reason"]
    assert row["reason"] == f"waiting: relayer transaction {relayer.submitted[0].id} STATE_NEW"
    await relayer.release()
    await done_after(ex, pool)
    assert len(relayer.submitted) == 1 and await proxy.world.chain.collateral(PROXY) > 0
    return row
