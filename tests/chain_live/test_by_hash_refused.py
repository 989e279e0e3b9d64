"""A node that refuses every eth_getLogs by block hash (EIP-234), on a real anvil.

Polygon zkEVM's public node answered ``{"blockHash": …}`` with ``-32602 "logs are limited to a
10000 block range"`` (0xPolygon/zkevm-node#3136), a range refusal's wording for a filter that
names no range. The bloom check reads a block by its hash when its bloom matches the filter
and the reply has none of its logs (a bloom false positive, common on Polygon's busy blocks):
that refusal must cost the check of that block, never the backfill.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.bloom import may_match
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import RELAY_HEX, Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.listener_runs import (
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

ZKEVM_REFUSAL = {"code": -32602, "message": "logs are limited to a 10000 block range"}


async def test_a_node_refusing_reads_by_hash_costs_the_bloom_check_never_the_backfill(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    """A backfill over a bloom false positive (an unwatched contract's OrderFilled beside a
    watched exchange's log of an unwatched event), on a node refusing reads by hash."""
    by_hash: list[str] = []

    async def refusing(request: JsonRpc, forward: Forward) -> JsonRpc:
        params = request.get("params") or [{}]
        if request.get("method") == "eth_getLogs" and "blockHash" in params[0]:
            by_hash.append(params[0]["blockHash"])
            return {"jsonrpc": "2.0", "id": request.get("id"), "error": ZKEVM_REFUSAL}
        return await forward(request)

    await anvil.rpc("anvil_setCode", ELSEWHERE, RELAY_HEX)
    await anvil.emit(order_filled_v2(order_hash=1))
    lookalike = order_filled_v2(order_hash=2, exchange=ELSEWHERE)
    other_event = {**order_filled_v2(order_hash=3), "topics": ["0x" + "ee" * 32]}
    suspect = await anvil.emit_block([lookalike, other_event])
    bloom, _ = await block_logs(anvil, suspect)
    assert bloom is not None and may_match(bloom, FILTER)
    await anvil.emit(order_filled_v2(order_hash=4))
    top = await anvil.head()
    async with node_in_front(anvil, refusing) as http_url:
        settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=http_url, CONDITION_SYNC=False)
        listener = Listener(pool, settings)
        async with running(listener) as task:

            async def caught_up() -> bool:
                return (await checkpoint(pool) or 0) >= top - 1

            await wait_until(caught_up, what="the backfill past the false positive")
            await wait_until(streaming(listener), what="streaming")
            await wait_until(count_is(pool, 2), what="both fills")
            assert not task.done()
    assert by_hash  # the check was tried
    assert [t[2] for t in await stored_trades(pool)] == [suspect - 1, top]
