"""A dump whose last block is above the node's head: the hand-over's checkpoint is a block this
chain does not have (yet). Its last row names a wrong block (block 3's fill put at block 23)."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from orderflow.history import import_file
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    listen_until_stored,
    stored_trades,
)
from tests.chain_live.logs import order_filled_v2
from tests.history import dumps as d
from tests.history.test_hand_over import node_logs

pytestmark = pytest.mark.anvil


async def test_a_dump_ending_above_the_head_loses_no_block(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for n in range(1, 4):
        await anvil.emit(order_filled_v2(order_hash=n))
    head = await anvil.head()
    fills = d.fills_of(await node_logs(anvil, head))
    fills[-1] = fills[-1] | {"block": head + 20}
    rows = [d.camel_row(f) for f in fills]  # its own block hashes: no blocks file
    report = await import_file(pool, d.write_parquet(tmp_path / "f.parquet", rows), chain_id=137)
    assert report.last_block == head + 20 and await checkpoint(pool) == head + 20

    await listen_until_stored(pool, anvil, 4)
    await anvil.emit(order_filled_v2(order_hash=5))  # while the listener is down
    await listen_until_stored(pool, anvil, 6)

    assert await stored_trades(pool) == await canonical_fills(anvil)
