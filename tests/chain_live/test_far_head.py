"""A ``newHeads`` notification naming a block far above the chain (a hostile or broken node, a
load balancer that sent one message from a node of another chain), on a real anvil.

The listener cannot read such a block and starts a new session; what it remembers of that head
must go with the session. Before the fix ``state.head`` kept the highest head ever seen: after
one such head the readiness check reported a lag of a billion blocks for ever (``/readyz``
failing, the pod never ready), and the bound that dead-letters logs far above the head
(``AHEAD_BLOCKS``) and the one on ``removed: true`` logs measured from it.
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import (
    canonical_fills,
    count_is,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.chain_live.standin import StandIn

pytestmark = pytest.mark.anvil


@pytest.mark.parametrize("ahead", [1_000, 10**9])
async def test_a_head_far_above_the_chain_is_forgotten_with_its_session(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool, ahead: int
) -> None:
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        sent: list[int] = []

        def far(head: dict[str, Any]) -> list[str]:
            if sent:
                return []
            number = int(head["number"], 16) + ahead
            sent.append(number)
            fake = {"number": hex(number), "hash": "0x" + "ab" * 32, "parentHash": "0x" + "cd" * 32}
            return [json.dumps({**head, **fake})]

        standin.mutate_head = far
        await anvil.emit(order_filled_v2(order_hash=1))

        async def far_head_sent() -> bool:
            return bool(sent)

        await wait_until(far_head_sent, what="the far head sent")
        standin.mutate_head = None
        await anvil.emit(order_filled_v2(order_hash=2))
        await anvil.mine(2)
        await wait_until(count_is(pool, 2), what="both fills")

        async def ready() -> bool:
            return (await listener.check_head_lag())[0]

        try:
            await wait_until(ready, what="the head lag check passing again")
        except AssertionError:
            detail = (await listener.check_head_lag())[1]
            raise AssertionError(f"the head lag check never passed again: {detail}") from None
        assert (listener.state.head or 0) <= await anvil.head()
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
