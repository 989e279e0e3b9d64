"""A backend behind the head answering eth_getLogs, caught by the headers' ``logsBloom``.

A load-balanced provider may answer eth_getLogs from a backend that lags the one answering
eth_blockNumber / eth_getBlockByNumber; such a backend answers an empty or partial list, without
an error, for the blocks it has not reached. The headers then come from the up-to-date backend
and every hash check passes. ``lagging`` is an HTTP node in front of anvil whose eth_getLogs
ranges leave out every log above a block it "has reached"; reads by block hash (EIP-234) are
answered by anvil, as a backend that has the block answers them.

Also: the bloom functions against the blooms anvil computes, and a bloom false positive (a
block matching the filter's bloom without one of its logs) costs one read by hash, no loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.bloom import bloom_of, in_bloom, may_match, parse_bloom
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import RELAY_HEX, Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.listener_runs import (
    canonical_fills,
    count_is,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import condition_preparation, order_filled_v2, wait_until

pytestmark = pytest.mark.anvil

FILTER = c.MAINNET.log_filter()
ELSEWHERE = "0x" + "0b" * 20  # a contract the listener does not watch


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


@dataclass
class LaggingNode:
    """HTTP JSON-RPC in front of anvil whose eth_getLogs ranges are answered by a backend that
    has reached only block ``reached`` (every log above it left out, no error), for the next
    ``lagging_replies`` range replies; everything else is anvil's (an up-to-date backend)."""

    url: str = ""
    reached: int = 0
    lagging_replies: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)
    by_hash: list[str] = field(default_factory=list)
    cut: int = 0  # logs left out
    unknown_by_hash: bool = False  # while lagging, a read by hash is geth's "unknown block"


@pytest.fixture
async def lagging(anvil: Anvil) -> AsyncIterator[LaggingNode]:
    node = LaggingNode()

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        reply = await forward(body)
        if body["method"] != "eth_getLogs" or "result" not in reply:
            return reply
        params = body["params"][0]
        if "blockHash" in params:
            node.by_hash.append(params["blockHash"])
            if node.unknown_by_hash and node.lagging_replies > 0:
                error = {"code": -32000, "message": "unknown block"}
                return {"jsonrpc": "2.0", "id": body["id"], "error": error}
            return reply
        node.ranges.append((int(params["fromBlock"], 16), int(params["toBlock"], 16)))
        if node.lagging_replies > 0:
            node.lagging_replies -= 1
            kept = [g for g in reply["result"] if int(g["blockNumber"], 16) <= node.reached]
            node.cut += len(reply["result"]) - len(kept)
            reply = {**reply, "result": kept}
        return reply

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def test_a_reply_from_a_backend_behind_the_head_is_read_again(
    anvil: Anvil, lagging: LaggingNode, pool: asyncpg.Pool
) -> None:
    """Fills in blocks 1-3, blocks 4-5 empty; the backend answering eth_getLogs has reached
    block 1 for its first two replies. Before the fix the first reply (block 1's fill) was
    checked against headers of an up-to-date backend, all consistent, and stored with the
    checkpoint at block 5: the fills of blocks 2 and 3 were never stored."""
    for i in range(3):
        await anvil.emit(order_filled_v2(order_hash=80 + i))  # blocks 1-3
    await anvil.mine(2)  # blocks 4-5: the range's end holds none of our logs
    lagging.reached, lagging.lagging_replies = 1, 2
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=lagging.url, CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(count_is(pool, 3), what="the three fills")
        await anvil.emit(order_filled_v2(order_hash=90))
        await wait_until(count_is(pool, 4), what="a live fill")
        assert not task.done()
    assert lagging.cut == 4  # two fills left out of each of the two lagging replies
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert lagging.ranges[:3] == [(0, 5)] * 3  # read again until whole
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 4


async def test_a_read_by_hash_the_lagging_backend_does_not_know_retries_the_session(
    anvil: Anvil, lagging: LaggingNode, pool: asyncpg.Pool
) -> None:
    """The read by hash reaches the lagging backend too: it does not have the block and says
    so (geth's "unknown block", -32000), never an empty list. The range is read again after a
    backoff until the backend has caught up: since 6 Dec 2026 in the same session (an
    eth_getLogs error nobody recognises is tried again before its range halves), before then
    by ending the session."""
    for i in range(2):
        await anvil.emit(order_filled_v2(order_hash=85 + i))  # blocks 1-2
    lagging.reached, lagging.lagging_replies, lagging.unknown_by_hash = 1, 2, True
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=lagging.url, CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(count_is(pool, 2), what="the two fills")
        assert not task.done()
    assert len(lagging.ranges) >= 2  # the "unknown block" had the range read again
    assert lagging.cut == 2
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_a_bloom_false_positive_costs_one_read_by_hash(
    anvil: Anvil, lagging: LaggingNode, pool: asyncpg.Pool
) -> None:
    """A block whose bloom matches the filter (a watched address, a watched topic0) without
    one of its logs: an unwatched contract's log with OrderFilled's topic0 beside a watched
    exchange's log of an unwatched event. It is read once by its hash, found without our
    logs, and the range is stored: never read again in a loop."""
    await anvil.rpc("anvil_setCode", ELSEWHERE, RELAY_HEX)
    await anvil.emit(order_filled_v2(order_hash=1))  # block 1
    lookalike = order_filled_v2(order_hash=2, exchange=ELSEWHERE)
    other_event = {**order_filled_v2(order_hash=3), "topics": ["0x" + "ee" * 32]}
    suspect = await anvil.emit_block([lookalike, other_event])  # block 2
    bloom, logs = await block_logs(anvil, suspect)
    assert bloom is not None and may_match(bloom, FILTER) and len(logs) == 2
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=lagging.url, CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(count_is(pool, 1), what="the fill")
        assert not task.done()
    header = await anvil.rpc("eth_getBlockByNumber", hex(suspect), False)
    assert lagging.by_hash == [header["hash"]]  # one read by hash, once
    assert lagging.ranges[0] == (0, suspect) and lagging.ranges.count((0, suspect)) == 1
    assert [t[2] for t in await stored_trades(pool)] == [1]  # the lookalike is not ours
