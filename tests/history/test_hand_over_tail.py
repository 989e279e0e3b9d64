"""A dump whose last block is wrong *below* the node's head: the hand-over's checkpoint claims
blocks the dump does not have, and the listener, continuing from there, never read them.

Two ways a dump's end lies: its last row names a wrong, later block (fill 3 put in an empty
block after fill 4, which the dump lacks), or the dump is cut inside its last block (one of the
two fills of that block). The listener checks the dump's last stored blocks against the node's
logs when it starts and reads from the highest block whose stored logs are the node's, that
block included.
"""

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


async def test_a_last_row_at_a_wrong_later_block_loses_no_block(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for n in range(1, 5):
        await anvil.emit(order_filled_v2(order_hash=n))
    await anvil.mine(4)
    head = await anvil.head()
    fills = d.fills_of(await node_logs(anvil, head))
    third = fills[2] | {"block": head - 1}  # an empty block after fill 4's
    rows = [d.camel_row(f) for f in (fills[0], fills[1], third)]  # fill 4 is not in the dump
    report = await import_file(pool, d.write_parquet(tmp_path / "f.parquet", rows), chain_id=137)
    assert report.last_block == head - 1 and await checkpoint(pool) == head - 1

    await listen_until_stored(pool, anvil, 5)

    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_a_dump_cut_inside_its_last_block_loses_no_fill(
    anvil: Anvil, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for n in range(1, 3):
        await anvil.emit(order_filled_v2(order_hash=n))
    last = await anvil.emit_block([order_filled_v2(order_hash=n) for n in (3, 4)])
    await anvil.mine(2)
    fills = d.fills_of(await node_logs(anvil, await anvil.head()))
    assert [f["block"] for f in fills[2:]] == [last, last]
    rows = [d.camel_row(f) for f in fills[:3]]  # cut after the first fill of its last block
    report = await import_file(pool, d.write_parquet(tmp_path / "f.parquet", rows), chain_id=137)
    assert report.last_block == last

    await listen_until_stored(pool, anvil, 5)

    assert await stored_trades(pool) == await canonical_fills(anvil)
