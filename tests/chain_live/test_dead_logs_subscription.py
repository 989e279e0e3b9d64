"""A ``logs`` subscription that stops delivering while ``newHeads`` goes on, on a real anvil.

A node may drop a logs subscription without closing the connection or saying so (geth's
"eth_subscribe with websockets/ipc eventually stops sending messages", ethereum/go-ethereum#2887:
"the websocket connection seems to still be open as I still receive responses for other
requests"; parity's "WS Subscriptions Missing Events", openethereum/parity-ethereum#8514). The
heads keep coming, so the silence timeout never fires. Each head's ``logsBloom`` says whether
the block may hold a log of the filter: such a block that the subscription sent no log of is
read by its hash before the checkpoint passes it.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.bloom import may_match
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import RELAY_HEX, Anvil
from tests.chain_live.in_front import Forward, JsonRpc, WsRelay, node_in_front
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    count_is,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.chain_live.test_bloom import ELSEWHERE, FILTER, block_logs

pytestmark = pytest.mark.anvil


async def _fill_past_a_dead_subscription(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool, order_hash: int
) -> None:
    """The relay withholds every log notification from now on (the node's logs subscription
    died), heads pass; a fill is mined: once the checkpoint is past its block, every fill of
    the chain is stored."""
    relay.hold(logs_only=True)
    await anvil.emit(order_filled_v2(order_hash=order_hash))
    fill_block = await anvil.head()
    await anvil.mine(3)

    async def past_the_fill() -> bool:
        return (await checkpoint(pool) or 0) >= fill_block

    await wait_until(past_the_fill, what="the checkpoint past the fill's block")
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_a_logs_subscription_gone_silent_while_heads_go_on_loses_no_fill(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """The relay withholds every log notification from some point on (the node's logs
    subscription died), heads pass. Before the fix each head stored the (empty) buffer with the
    checkpoint: the checkpoint went past the fill's block, the fill was never stored."""
    listener = Listener(pool, make_settings(relay.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await _fill_past_a_dead_subscription(anvil, relay, pool, order_hash=80)
        relay.release()
        live = await anvil.emit(order_filled_v2(order_hash=81))

        async def live_stored() -> bool:
            return live in {t[0] for t in await stored_trades(pool)}

        await wait_until(live_stored, what="a fill after the subscription came back")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 2


async def test_a_logs_subscription_dead_for_good_is_given_up_and_every_fill_stored(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """No log ever comes on the subscription again, not even after a reconnect (the relay
    holds them on every connection): the first block missed is read with eth_getLogs, the
    second with no log in between ends the session; every fill is stored once all the same."""
    listener = Listener(pool, make_settings(relay.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        sessions = listener.state.sessions
        relay.hold(logs_only=True)
        for order_hash in (90, 91, 92):
            await anvil.emit(order_filled_v2(order_hash=order_hash))
            await anvil.mine(1)
        top = await anvil.head()

        async def all_stored() -> bool:
            return (await checkpoint(pool) or 0) >= top - 1 and len(await stored_trades(pool)) == 3

        await wait_until(all_stored, what="every fill stored, the checkpoint past them")
        assert listener.state.sessions > sessions  # the dead subscription was given up
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 3


async def test_a_bloom_false_positive_on_the_subscription_costs_one_read_by_hash(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    """Control: a block whose bloom matches the filter without one of its logs (an unwatched
    contract's OrderFilled beside a watched exchange's log of an unwatched event) while the
    subscription is alive. It is read once by its hash, the session goes on, and a block with
    our logs or an empty one is never read by hash."""
    by_hash: list[str] = []

    async def counting(request: JsonRpc, forward: Forward) -> JsonRpc:
        params = request.get("params") or [{}]
        if request.get("method") == "eth_getLogs" and "blockHash" in params[0]:
            by_hash.append(params[0]["blockHash"])
        return await forward(request)

    await anvil.rpc("anvil_setCode", ELSEWHERE, RELAY_HEX)
    async with node_in_front(anvil, counting) as http_url:
        settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=http_url, CONDITION_SYNC=False)
        listener = Listener(pool, settings)
        async with running(listener) as task:
            await wait_until(streaming(listener), what="streaming")
            sessions = listener.state.sessions
            await anvil.emit(order_filled_v2(order_hash=100))
            first = await anvil.head()
            lookalike = order_filled_v2(order_hash=101, exchange=ELSEWHERE)
            other_event = {**order_filled_v2(order_hash=102), "topics": ["0x" + "ee" * 32]}
            suspect = await anvil.emit_block([lookalike, other_event])
            bloom, logs = await block_logs(anvil, suspect)
            assert bloom is not None and len(logs) == 2
            assert may_match(bloom, FILTER)
            await anvil.mine(3)
            await anvil.emit(order_filled_v2(order_hash=103))
            top = await anvil.head()
            await anvil.mine(1)

            async def past_it() -> bool:
                return (await checkpoint(pool) or 0) >= top

            await wait_until(past_it, what="the checkpoint past the last fill")
            await wait_until(count_is(pool, 2), what="both fills")
            assert listener.state.sessions == sessions  # the session went on
            assert not task.done()
    header = await anvil.rpc("eth_getBlockByNumber", hex(suspect), False)
    assert by_hash == [header["hash"]]  # one read by hash, of that block only
    assert [t[2] for t in await stored_trades(pool)] == [first, top]  # the lookalike is not ours


async def test_a_read_by_hash_a_lagging_backend_refuses_reads_the_block_with_eth_getlogs(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """The read by hash of a block the subscription sent no log of reaches a backend that does
    not have the block yet (geth's "unknown block", -32000, as a load-balanced endpoint
    answers): the block is read with eth_getLogs instead, the session goes on, the fill is
    stored. Ending the session there would reconnect on every such answer."""
    refused: list[str] = []

    async def lagging(request: JsonRpc, forward: Forward) -> JsonRpc:
        params = request.get("params") or [{}]
        if request.get("method") == "eth_getLogs" and "blockHash" in params[0] and not refused:
            refused.append(params[0]["blockHash"])
            error = {"code": -32000, "message": "unknown block"}
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": error}
        return await forward(request)

    async with node_in_front(anvil, lagging) as http_url:
        settings = make_settings(relay.ws_url, POLYGON_HTTP_URL=http_url, CONDITION_SYNC=False)
        listener = Listener(pool, settings)
        async with running(listener) as task:
            await wait_until(streaming(listener), what="streaming")
            sessions = listener.state.sessions
            await _fill_past_a_dead_subscription(anvil, relay, pool, order_hash=110)
            assert listener.state.sessions == sessions  # no reconnect for it
            assert not task.done()
    assert len(refused) == 1
