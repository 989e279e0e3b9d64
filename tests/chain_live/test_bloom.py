"""The headers' ``logsBloom`` (bloom.py) against the blooms anvil computes.

Every bit is compared: the bloom of a block's logs computed here is the header's.
"""

from __future__ import annotations

from typing import Any

import pytest

from orderflow.chain import contracts as c
from orderflow.chain.bloom import bloom_of, in_bloom, may_match, parse_bloom
from tests.chain_live.conftest import Anvil
from tests.chain_live.logs import condition_preparation, order_filled_v2

pytestmark = pytest.mark.anvil

FILTER = c.MAINNET.log_filter()


async def block_logs(anvil: Anvil, number: int) -> tuple[int | None, list[dict[str, Any]]]:
    """Block ``number``'s parsed logsBloom and every log it holds (no filter)."""
    header = await anvil.rpc("eth_getBlockByNumber", hex(number), False)
    logs = await anvil.rpc("eth_getLogs", {"blockHash": header["hash"]})
    return parse_bloom(header["logsBloom"]), logs


async def test_the_bloom_is_the_one_anvil_computes(anvil: Anvil) -> None:
    busy = await anvil.emit_block(
        [
            order_filled_v2(order_hash=1),
            order_filled_v2(order_hash=2, exchange=c.V1_CTF_EXCHANGE),
            condition_preparation(3),
        ]
    )
    await anvil.emit(order_filled_v2(order_hash=4))
    single = await anvil.head()
    await anvil.mine(1)
    empty = await anvil.head()
    for number in (busy, single):
        bloom, logs = await block_logs(anvil, number)
        assert logs and bloom is not None
        assert bloom_of(logs) == bloom  # every bit, as anvil sets them
        assert may_match(bloom, FILTER)
        for raw in logs:
            assert in_bloom(bloom, bytes.fromhex(raw["address"][2:]))
    bloom, logs = await block_logs(anvil, empty)
    assert (bloom, logs) == (0, [])
    assert not may_match(0, FILTER)
    single_bloom, _ = await block_logs(anvil, single)
    assert single_bloom is not None
    # the fill's exchange and topic0 are in, and the filter's other addresses are not all in
    assert not may_match(single_bloom, {**FILTER, "address": [c.CONDITIONAL_TOKENS]})
    assert not may_match(single_bloom, {**FILTER, "topics": [[c.TOPIC_CONDITION_PREPARATION]]})
