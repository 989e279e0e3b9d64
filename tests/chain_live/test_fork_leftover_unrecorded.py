"""A fork's fill at a height whose header the listener's backfill would not record goes too.

A file recorded from a node's ``logs`` subscription across a reorg (from a node that never sends
``removed: true``) holds a fill of block 5 of the orphaned fork (another block hash, a
transaction the canonical chain never mined). It is imported (``listen --from-file``), then the
listener reads the chain from block 0 over anvil. What is held at a height under another hash
than the node's header there is a fork's left over (``store_forks``), but a backfill records the
header of a block only when it holds our logs within the reorg window, ends a range, or is among
the run's top 32: canonical block 5 here holds none of our logs (36 blocks below the head), or
it holds one but lies below a reorg window of 8 blocks. Before (6 Dec 2026) the fork's fill
stayed beside the canonical fills, a fill the chain never had counted as a trade.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.ingest import ingest_logs
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    make_settings,
    running,
    stored_trades,
)
from tests.chain_live.logs import order_filled_v2, wait_until, word

pytestmark = pytest.mark.anvil

FORK = 5


@pytest.mark.parametrize("case", ["no log of ours there", "below the reorg window"])
async def test_a_forks_fill_at_a_height_without_a_recorded_header_goes(
    anvil: Anvil, pool: asyncpg.Pool, case: str
) -> None:
    for n in (1, 2):
        await anvil.emit(order_filled_v2(order_hash=n))
    await anvil.mine(FORK - 1 - await anvil.head())
    if case == "below the reorg window":
        await anvil.emit(order_filled_v2(order_hash=3))  # the canonical block 5's fill
    else:
        await anvil.mine(1)
    assert await anvil.head() == FORK
    await anvil.mine(40)
    await anvil.emit(order_filled_v2(order_hash=4))
    head = await anvil.head()

    template = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x1", "toBlock": "0x1"}))[0]
    forked = {
        **template,
        "topics": [template["topics"][0], "0x" + word(99), *template["topics"][2:]],
        "blockNumber": hex(FORK),
        "blockHash": "0x" + "ab" * 32,
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x3",
    }
    await ingest_logs(pool, [forked], chain_id=137)

    window = 8 if case == "below the reorg window" else 256
    async with running(Listener(pool, make_settings(anvil.ws_url, REORG_WINDOW_BLOCKS=window))):

        async def caught_up() -> bool:
            return (await checkpoint(pool) or 0) >= head

        await wait_until(caught_up, what=f"the listener's checkpoint at block {head}")

    stored = await stored_trades(pool)
    assert stored == await canonical_fills(anvil), (
        f"{case}: stored fills (tx, log index, block, hash) "
        f"{[(t[:6], i, b, h[:6]) for t, i, b, h in stored]}"
    )
    letters = await pool.fetch("SELECT block_number, reason FROM orderflow_dead_letters")
    assert [r["block_number"] for r in letters] == [FORK]
    assert letters[0]["reason"].startswith(f"OrderFilled stored at block {FORK} (hash 0xabab")
