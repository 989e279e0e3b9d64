"""A capped block's dead letter goes once the block was read whole from a better node.

A block whose eth_getLogs reply stays at a result cap is stored as returned with a dead letter
naming it (test_truncation.py). When that block is later read from a node without that cap and
its reply is below every cap (the block is whole), the missing logs are stored and the dead
letter is resolved (deleted, with a log line): nobody has to find and delete it by hand. Read
again from the same capped node, it stays.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.rpc_http import HttpTransport
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import stored_trades
from tests.chain_live.logs import order_filled_v2
from tests.chain_live.test_truncation import TruncatingNode, backfiller, truncating  # noqa: F401

pytestmark = pytest.mark.anvil


async def _capped_letters(pool: asyncpg.Pool) -> list[int]:
    rows = await pool.fetch(
        "SELECT block_number FROM orderflow_dead_letters WHERE raw ? 'capped_eth_getLogs'"
    )
    return [r["block_number"] for r in rows]


async def test_a_capped_block_read_whole_later_resolves_its_dead_letter(
    anvil: Anvil,
    truncating: TruncatingNode,  # noqa: F811
    pool: asyncpg.Pool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="orderflow.chain.capped_logs")
    await anvil.emit(order_filled_v2(order_hash=1))
    crowded = await anvil.emit_block([order_filled_v2(order_hash=100 + i) for i in range(6)])
    await anvil.emit(order_filled_v2(order_hash=2))
    head = await anvil.head()
    truncating.cap = 4
    capped_node = HttpTransport(truncating.url)
    await backfiller(pool, capped_node, AdaptiveRange(64, 1, 64)).run(1, head)
    assert await _capped_letters(pool) == [crowded]
    # The same capped node again: still in doubt, the dead letter stays.
    await backfiller(pool, capped_node, AdaptiveRange(64, 1, 64)).run(crowded, crowded)
    await capped_node.aclose()
    assert await _capped_letters(pool) == [crowded]
    # A node without the cap (anvil itself): the block is whole, the dead letter goes.
    better_node = HttpTransport(anvil.http_url)
    await backfiller(pool, better_node, AdaptiveRange(64, 1, 64)).run(crowded - 1, crowded + 1)
    await better_node.aclose()
    stored = await stored_trades(pool)
    assert [row[2] for row in stored].count(crowded) == 6
    assert len(set(stored)) == len(stored) == 8
    assert await _capped_letters(pool) == []
    assert f"block {crowded} read whole: its result-cap dead letter is resolved" in caplog.text
