"""An eth_getLogs reply is never a retraction, whatever its ``removed`` flags say.

A real node never sets ``removed: true`` in an eth_getLogs reply (the canonical chain's logs by
construction); a buggy or hostile provider might. The "flagging node" is a JSON-RPC server in
front of the real anvil that flags logs of its eth_getLogs replies as removed, and adds removed
copies of a block stored long before (with its real hash, or with a made-up one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.contracts import MAINNET
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.listener_runs import canonical_fills, checkpoint, stored_trades
from tests.chain_live.logs import order_filled_v2

pytestmark = pytest.mark.anvil


@dataclass
class FlaggingNode:
    url: str = ""
    flag_own: bool = False  # flag the reply's own first log as removed
    extra: list[dict[str, Any]] = field(default_factory=list)  # appended to every reply


@pytest.fixture
async def flagging(anvil: Anvil) -> AsyncIterator[FlaggingNode]:
    node = FlaggingNode()

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        reply = await forward(body)
        if body["method"] == "eth_getLogs" and isinstance(reply.get("result"), list):
            logs = reply["result"]
            if node.flag_own and logs:
                logs[0] = {**logs[0], "removed": True}
            reply["result"] = [*logs, *node.extra]
        return reply

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def backfill(pool: asyncpg.Pool, url: str, start: int, end: int) -> None:
    transport = HttpTransport(url)
    client = EthClient(transport)
    try:
        await Backfiller(
            pool,
            client,
            chain_id=137,
            addresses=MAINNET,
            ranges=AdaptiveRange(1000, 1, 1000),
            headers=HeaderCache(client),
            verify_depth=2,  # the old block is below the window: nothing checks it there
        ).run(start, end)
    finally:
        await transport.aclose()


async def test_a_removed_flag_in_an_eth_getlogs_reply_retracts_nothing(
    anvil: Anvil, flagging: FlaggingNode, pool: asyncpg.Pool
) -> None:
    """Blocks stored by a first backfill, then a second backfill whose replies flag their own
    first log as removed and carry removed copies of the first backfill's oldest fill (its real
    block hash, and a made-up one). On main the flagged logs retracted their blocks: the old
    block's fill was deleted and the flagged one never stored, while the checkpoint moved past
    both (never read again)."""
    for i in range(4):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    first_end = await anvil.head()
    await backfill(pool, anvil.http_url, 0, first_end)
    old = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(first_end)}))[0]
    for i in range(4):
        await anvil.emit(order_filled_v2(order_hash=100 + i))
    head = await anvil.head()
    flagging.flag_own = True
    flagging.extra = [
        {**old, "removed": True},
        {**old, "removed": True, "blockHash": "0x" + "ab" * 32},
    ]
    await backfill(pool, flagging.url, first_end + 1, head)
    assert len(await canonical_fills(anvil)) == 8
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await checkpoint(pool) == head
