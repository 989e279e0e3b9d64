"""A log on the subscription naming a block far above the head (a hostile or broken node).

A node sends a block's logs with its head (anvil: just before it), so a log more than
``live.AHEAD_BLOCKS`` above the newest head seen is no log of a block to come: until 6 Dec 2026
it waited in the session's buffer until the session ended, never stored, never said (a stream
of them grew the buffer without bound). Now it is a dead letter at once, and the real fills
beside it are stored exactly once.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from orderflow.chain.listener import Listener
from orderflow.chain.live import AHEAD_BLOCKS
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import (
    canonical_fills,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.chain_live.standin import StandIn

pytestmark = pytest.mark.anvil


async def _letters(pool: asyncpg.Pool) -> list[tuple[int, str]]:
    rows = await pool.fetch(
        "SELECT block_number, reason FROM orderflow_dead_letters ORDER BY block_number"
    )
    return [(r["block_number"], r["reason"]) for r in rows]


async def test_a_log_far_above_the_head_is_a_dead_letter_at_once(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(standin.url))
    ahead: list[int] = []
    seen: set[tuple[str, str]] = set()

    def mutate(raw: dict[str, Any]) -> list[str]:
        # one copy of each of the first three logs, as the subscription sends it: not of our own
        # copy coming back, nor of the same log in an eth_getLogs reply (the stand-in offers
        # those too, and once a log far ahead is seen the listener reads its blocks so)
        key = (raw["transactionHash"], raw["logIndex"])
        if int(raw["logIndex"], 16) >= 1000 or key in seen or len(ahead) == 3:
            return []
        seen.add(key)
        number = int(raw["blockNumber"], 16) + 2 * AHEAD_BLOCKS + len(ahead)
        ahead.append(number)
        copy = {**raw, "blockNumber": hex(number), "logIndex": hex(1000 + len(ahead))}
        return [json.dumps(copy)]

    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        standin.mutate = mutate
        for i in range(3):
            await anvil.emit(order_filled_v2(order_hash=100 + i))

        async def copied() -> bool:
            return len(ahead) == 3

        await wait_until(copied, what="the 3 copies sent")
        standin.mutate = None
        await anvil.emit(order_filled_v2(order_hash=200))

        async def fills() -> bool:
            return len(await stored_trades(pool)) == 4

        async def letters() -> bool:
            return len(await _letters(pool)) == 3

        await wait_until(fills, what="the 4 real fills stored")
        await wait_until(letters, timeout=5, what="the 3 logs ahead dead-lettered")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    stored = await _letters(pool)
    assert [n for n, _ in stored] == ahead
    assert all("above the newest head" in reason for _, reason in stored), stored
