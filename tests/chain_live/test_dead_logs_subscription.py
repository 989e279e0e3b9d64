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

from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import WsRelay
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until

pytestmark = pytest.mark.anvil


async def test_a_logs_subscription_gone_silent_while_heads_go_on_loses_no_fill(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """The relay withholds every log notification from some point on (the node's logs
    subscription died), heads pass. Before the fix each head stored the (empty) buffer with the
    checkpoint: the checkpoint went past the fill's block, the fill was never stored."""
    listener = Listener(pool, make_settings(relay.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        relay.hold(logs_only=True)  # the logs subscription is dead from now on, heads pass
        await anvil.emit(order_filled_v2(order_hash=80))
        fill_block = await anvil.head()
        await anvil.mine(3)

        async def past_the_fill() -> bool:
            return (await checkpoint(pool) or 0) >= fill_block

        await wait_until(past_the_fill, what="the checkpoint past the fill's block")
        assert await stored_trades(pool) == await canonical_fills(anvil)
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
