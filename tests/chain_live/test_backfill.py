"""Backfill: adaptive ranges against a node that limits eth_getLogs, and the header path.

The "limited node" is a small aiohttp JSON-RPC server in front of the real anvil: it answers
eth_getLogs spanning more than ``limit`` blocks with -32005 "query returned more than 10000
results" (what Infura/Alchemy send) and forwards everything else — optionally stripping
``blockTimestamp`` from logs, as nodes older than geth 1.14 do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from aiohttp import web

from orderflow.chain.backfill import AdaptiveRange, Backfiller, HeaderCache, fill_timestamps
from orderflow.chain.contracts import MAINNET
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.errors import RetryableRpcError
from tests.chain_live.conftest import Anvil, free_port
from tests.chain_live.logs import order_filled_v2

pytestmark = pytest.mark.anvil


@dataclass
class LimitedNode:
    url: str
    limit: int = 1_000_000
    strip_timestamps: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture
async def limited(anvil: Anvil) -> AsyncIterator[LimitedNode]:
    node = LimitedNode(url="")
    upstream = httpx.AsyncClient(base_url=anvil.http_url, timeout=30)

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        method, params = body["method"], body["params"]
        node.calls.append((method, params))
        if method == "eth_getLogs":
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            if span > node.limit:
                error = {"code": -32005, "message": "query returned more than 10000 results"}
                return web.json_response({"jsonrpc": "2.0", "id": body["id"], "error": error})
        reply = (await upstream.post("/", json=body)).json()
        if method == "eth_getLogs" and node.strip_timestamps:
            for g in reply["result"]:
                g.pop("blockTimestamp", None)
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    node.url = f"http://127.0.0.1:{port}/"
    try:
        yield node
    finally:
        await runner.cleanup()
        await upstream.aclose()


def backfiller(pool: asyncpg.Pool, client: EthClient, ranges: AdaptiveRange) -> Backfiller:
    return Backfiller(
        pool,
        client,
        chain_id=137,
        addresses=MAINNET,
        ranges=ranges,
        headers=HeaderCache(client),
    )


async def fills_in_blocks(anvil: Anvil, blocks: int) -> int:
    """One fill in each of ``blocks`` blocks; returns the head."""
    for i in range(blocks):
        await anvil.emit(order_filled_v2(order_hash=1000 + i))
    return await anvil.head()


async def test_range_shrinks_on_refusal_and_grows_back(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    await fills_in_blocks(anvil, 24)
    await anvil.mine(40)
    head = await anvil.head()
    transport = HttpTransport(limited.url)
    ranges = AdaptiveRange(16, 1, 16, grow_after=2)
    limited.limit = 4
    report = await backfiller(pool, EthClient(transport), ranges).run(1, 12)
    assert report.shrinks >= 2
    assert max(report.range_sizes) <= 4
    assert sum(report.range_sizes) == 12
    # The node relents: the range doubles back up to its maximum.
    limited.limit = 1_000
    report = await backfiller(pool, EthClient(transport), ranges).run(13, head)
    assert report.shrinks == 0
    assert max(report.range_sizes) == 16
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 24
    cp = await pool.fetchrow("SELECT block_number, block_hash FROM orderflow_sync_checkpoints")
    header = await anvil.rpc("eth_getBlockByNumber", hex(head), False)
    assert (cp["block_number"], cp["block_hash"]) == (head, header["hash"])
    await transport.aclose()


async def test_backfill_reports_its_progress_range_by_range(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    import io

    from orderflow.progress import Progress

    await fills_in_blocks(anvil, 12)
    transport = HttpTransport(limited.url)
    progress = Progress("backfill", unit="blocks", total=12, count_unit="logs",
                        stream=io.StringIO(), log_interval=0.0)  # fmt: skip
    report = await backfiller(pool, EthClient(transport), AdaptiveRange(4, 1, 4)).run(
        1, 12, progress=progress
    )
    assert report.ranges == 3
    assert (progress.done, progress.total, progress.count) == (12, 12, report.logs)
    assert progress.fraction() == 1.0
    await transport.aclose()


async def test_refusal_at_the_minimum_range_backs_off_instead_of_stopping(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    """Retryable, not fatal: the listener's session ends and reconnects after its backoff."""
    await fills_in_blocks(anvil, 3)
    limited.limit = 1
    transport = HttpTransport(limited.url)
    with pytest.raises(RetryableRpcError, match=r"GETLOGS_MIN_BLOCKS=2.*backing off"):
        await backfiller(pool, EthClient(transport), AdaptiveRange(8, 2, 8)).run(1, 3)
    await transport.aclose()


async def test_logs_without_block_timestamp_take_the_header_time(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    await anvil.emit_block([order_filled_v2(order_hash=1), order_filled_v2(order_hash=2)])
    await anvil.mine(1)
    await anvil.emit(order_filled_v2(order_hash=3))
    limited.strip_timestamps = True
    transport = HttpTransport(limited.url)
    client = EthClient(transport)
    head = await anvil.head()

    raws = await client.get_logs(1, head, MAINNET.log_filter())
    assert raws and all("blockTimestamp" not in g for g in raws)
    ready, used, orphans = await fill_timestamps(raws, HeaderCache(client))
    assert not orphans and len(used) == 2  # two distinct blocks, one header fetch each
    by_hash = sum(1 for m, _ in limited.calls if m == "eth_getBlockByHash")
    assert by_hash == 2

    await backfiller(pool, client, AdaptiveRange(100, 1, 100)).run(1, head)
    rows = await pool.fetch("SELECT block_number, timestamp FROM orderflow_trades")
    assert len(rows) == 3
    for row in rows:
        header = await anvil.rpc("eth_getBlockByNumber", hex(row["block_number"]), False)
        assert int(row["timestamp"].timestamp()) == int(header["timestamp"], 16)
    assert {g["blockHash"] for g in ready} == {h.hash for h in used}
    await transport.aclose()
