"""A provider that truncates eth_getLogs without an error loses no trade.

The "truncating node" is a small aiohttp JSON-RPC server in front of the real anvil: it
forwards every request and, when an eth_getLogs reply holds more than ``cap`` logs, keeps the
first ``cap`` of them and drops the rest — same JSON shape, no error, as the providers listed
in docs/listener.md ("Truncated eth_getLogs replies") do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow.chain import contracts as c
from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.contracts import MAINNET
from orderflow.chain.listener import Listener
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
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
from tests.chain_live.logs import (
    condition_preparation,
    condition_resolution,
    order_filled_v2,
    wait_until,
)

pytestmark = pytest.mark.anvil


@dataclass
class TruncatingNode:
    url: str
    cap: int = 1_000_000
    calls: list[tuple[int, int, int]] = field(default_factory=list)  # from, to, logs returned
    filters: list[dict[str, Any]] = field(default_factory=list)  # each call's filter, as sent
    refuse_narrow: bool = False  # refuse a filter of one address as too many results


@pytest.fixture
async def truncating(anvil: Anvil) -> AsyncIterator[TruncatingNode]:
    node = TruncatingNode(url="")

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        narrow = body["method"] == "eth_getLogs" and len(body["params"][0]["address"]) == 1
        if narrow and node.refuse_narrow:
            error = {"code": -32005, "message": "query returned more than 10000 results"}
            return {"jsonrpc": "2.0", "id": body["id"], "error": error}
        reply = await forward(body)
        if body["method"] == "eth_getLogs" and isinstance(reply.get("result"), list):
            reply["result"] = reply["result"][: node.cap]
            p = body["params"][0]
            span = (int(p["fromBlock"], 16), int(p["toBlock"], 16))
            node.calls.append((*span, len(reply["result"])))
            node.filters.append(p)
        return reply

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def test_a_truncated_backfill_reads_every_fill_exactly_once(
    anvil: Anvil, truncating: TruncatingNode, pool: asyncpg.Pool
) -> None:
    """12 fills in 12 blocks, a backfill over HTTP from a node that returns at most 5 logs per
    eth_getLogs: before the fix the first range (2000 blocks) stored the first 5 fills, the
    checkpoint moved past the other 7 and they were never read again."""
    for i in range(12):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    truncating.cap = 5
    settings = make_settings(
        anvil.ws_url, POLYGON_HTTP_URL=truncating.url, GETLOGS_RESULT_CAPS=[5, 10_000]
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")

        async def past_head() -> bool:
            return (await checkpoint(pool) or 0) >= head

        await wait_until(past_head, what="the backfill to the head")
        assert not task.done()
    assert len(await canonical_fills(anvil)) == 12
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert any(n == 5 for _, _, n in truncating.calls)  # the node did truncate


def backfiller(pool: asyncpg.Pool, transport: HttpTransport, ranges: AdaptiveRange) -> Backfiller:
    client = EthClient(transport)
    return Backfiller(
        pool,
        client,
        chain_id=137,
        addresses=MAINNET,
        ranges=ranges,
        headers=HeaderCache(client),
        result_caps=(4,),
    )


async def test_a_block_with_more_logs_than_the_cap_is_taken_with_a_warning_never_looped(
    anvil: Anvil, truncating: TruncatingNode, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Splitting cannot go below one block, and the block's 6 logs share one address and one
    topic0, so no narrower filter helps either: the block is taken as the node returned it
    (counted and warned about), and the rest of the range is still read in full."""
    await anvil.emit(order_filled_v2(order_hash=1))
    crowded = await anvil.emit_block([order_filled_v2(order_hash=100 + i) for i in range(6)])
    for i in range(5):
        await anvil.emit(order_filled_v2(order_hash=200 + i))
    head = await anvil.head()
    truncating.cap = 4
    ranges = AdaptiveRange(64, 1, 64)
    transport = HttpTransport(truncating.url)
    report = await backfiller(pool, transport, ranges).run(1, head)
    await transport.aclose()
    stored = await stored_trades(pool)
    assert [row[2] for row in stored].count(crowded) == 4  # as many as the node gives
    assert len(stored) == 1 + 4 + 5  # every fill of every other block
    assert len(set(stored)) == len(stored)
    assert report.capped_blocks == 1
    assert report.narrowed_blocks == 1
    assert report.cap_splits >= 1
    assert len(truncating.calls) < 4 * (head + 1)  # bisection, not a loop
    assert "more logs than the provider returns" in caplog.text
    assert ranges.size < 64  # later ranges start smaller
    # The block stays in doubt after the warning is gone: a dead letter names it (on main:
    # nothing but the log line and a counter without the block).
    letters = await pool.fetch("SELECT block_number, reason, topic0 FROM orderflow_dead_letters")
    assert [r["block_number"] for r in letters] == [crowded]
    assert letters[0]["reason"].startswith(f"block {crowded}: eth_getLogs (address")
    assert "returned 4 logs, a result cap" in letters[0]["reason"]
    assert letters[0]["topic0"] == c.TOPIC_ORDER_FILLED_V2


async def test_a_block_over_the_cap_is_read_whole_by_address_then_by_topic(
    anvil: Anvil, truncating: TruncatingNode, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """One block of 10 logs behind a node that returns the first 4 of any eth_getLogs: 3 fills
    from the V2 exchange, 3 from ExchangeV3, and 2 conditions prepared and resolved by
    ConditionalTokens. Before the fix the block's reply (4 logs, at the cap) was taken as
    returned: 4 of the 10 stored, the other 6 lost. Read again per address, then (its 4 logs
    are at the cap again) ConditionalTokens per topic0, every reply is below the cap."""
    await anvil.emit(order_filled_v2(order_hash=1))
    crowded = await anvil.emit_block(
        [
            *(order_filled_v2(order_hash=100 + i) for i in range(3)),
            *(order_filled_v2(order_hash=200 + i, exchange=c.V3_EXCHANGE) for i in range(3)),
            condition_preparation(1),
            condition_preparation(2),
            condition_resolution(1),
            condition_resolution(2),
        ]
    )
    await anvil.emit(order_filled_v2(order_hash=2))
    head = await anvil.head()
    truncating.cap = 4
    transport = HttpTransport(truncating.url)
    report = await backfiller(pool, transport, AdaptiveRange(1, 1, 1)).run(1, head)
    await transport.aclose()
    stored = await stored_trades(pool)
    assert [row[2] for row in stored].count(crowded) == 6
    assert stored == await canonical_fills(anvil)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_conditions") == 2
    outcomes = await pool.fetchval("SELECT count(*) FROM orderflow_market_outcomes")
    assert outcomes == 2
    assert report.capped_blocks == 0  # every narrower reply was below the cap: trusted
    assert report.narrowed_blocks == 1
    assert "more logs than the provider returns" not in caplog.text
    # The cost: one call per watched address, then one per topic0 for ConditionalTokens.
    on_crowded = [call for call in truncating.calls if call[0] == call[1] == crowded]
    per_topic = [f for f in truncating.filters if len(f["topics"][0]) == 1]
    assert {tuple(f["address"]) for f in per_topic} == {(c.CONDITIONAL_TOKENS,)}
    addresses, topics = len(MAINNET.watched_addresses()), len(MAINNET.topics()[0])
    assert len(on_crowded) == 1 + addresses + topics
    # No extra request for a block below the cap: one per other block.
    assert len(truncating.calls) == (head - 1) + len(on_crowded)


async def test_a_node_refusing_the_narrower_filters_costs_the_block_never_the_backfill(
    anvil: Anvil, truncating: TruncatingNode, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """A node that truncates the whole filter but refuses a one-address filter as too many
    results: narrowing cannot help there, so the block is taken as returned (warned about,
    counted) and the backfill goes on, instead of shrinking and retrying the block forever."""
    crowded = await anvil.emit_block(
        [
            *(order_filled_v2(order_hash=100 + i) for i in range(3)),
            *(order_filled_v2(order_hash=200 + i, exchange=c.V3_EXCHANGE) for i in range(3)),
        ]
    )
    await anvil.emit(order_filled_v2(order_hash=1))
    head = await anvil.head()
    truncating.cap, truncating.refuse_narrow = 4, True
    transport = HttpTransport(truncating.url)
    report = await backfiller(pool, transport, AdaptiveRange(1, 1, 1)).run(1, head)
    await transport.aclose()
    stored = await stored_trades(pool)
    assert [row[2] for row in stored].count(crowded) == 4
    assert len(stored) == 4 + 1
    assert report.capped_blocks == 1
    assert "a narrower filter was refused" in caplog.text
    assert await checkpoint(pool) == head
