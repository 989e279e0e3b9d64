"""A file's retraction of an old block costs the listener that block, never a catch-up.

A file line ``removed: true`` naming a block the listener stored long ago, by its real hash (a
hostile line, or a recording of a fork the node later undid the other way), deletes the
block's rows. The listener must read that block again — and only it: on main the retraction
rewound the listener's checkpoint below the block, and the next session read every block
since with eth_getLogs (on Polygon, possibly years of them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
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


@pytest.fixture
async def recording(anvil: Anvil) -> AsyncIterator[tuple[str, list[tuple[int, int]]]]:
    """A node in front of anvil that records the block range of every eth_getLogs."""
    calls: list[tuple[int, int]] = []

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        if body["method"] == "eth_getLogs":
            p = body["params"][0]
            calls.append((int(p["fromBlock"], 16), int(p["toBlock"], 16)))
        return await forward(body)

    async with node_in_front(anvil, steer) as url:
        yield url, calls


async def test_a_retracted_old_block_is_read_again_alone(
    anvil: Anvil, recording: tuple[str, list[tuple[int, int]]], pool: asyncpg.Pool
) -> None:
    url, calls = recording
    for i in range(6):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=url, CONDITION_SYNC=False)

    async def caught_up() -> bool:
        return (await checkpoint(pool) or 0) >= head

    async with running(Listener(pool, settings)):
        await wait_until(caught_up, what="the backfill to the head")
    before = await checkpoint(pool)
    assert before is not None
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)})
    old = logs[1]  # the second fill's block, far below the checkpoint in spirit
    report = await ingest_logs(pool, [{**old, "removed": True}], chain_id=137)
    assert report.stored.retracted == 1  # the canonical fill is gone
    assert len(await stored_trades(pool)) == 5
    calls.clear()

    async def restored() -> bool:
        return await stored_trades(pool) == await canonical_fills(anvil)

    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await wait_until(restored, what="the retracted block read again")
    number = int(old["blockNumber"], 16)
    assert (number, number) in calls
    # Nothing else below the checkpoint was read again.
    assert all(call == (number, number) or call[0] > before for call in calls), calls
    assert await pool.fetchval("SELECT count(*) FROM orderflow_reread_blocks") == 0
