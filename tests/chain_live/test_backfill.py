"""Backfill: adaptive ranges against a node that limits eth_getLogs, and the header path.

The "limited node" is a small aiohttp JSON-RPC server in front of the real anvil: it answers
eth_getLogs spanning more than ``limit`` blocks with -32005 "query returned more than 10000
results" (what Infura/Alchemy send) and forwards everything else — optionally stripping
``blockTimestamp`` from logs, as nodes older than geth 1.14 do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow import db
from orderflow.chain import backfill, partition_indexes, pending_sums
from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache, fill_timestamps
from orderflow.chain.contracts import MAINNET
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.errors import RetryableRpcError
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.logs import order_filled_v2
from tests.conftest import scratch_database

pytestmark = pytest.mark.anvil


@dataclass
class LimitedNode:
    url: str
    limit: int = 1_000_000
    strip_timestamps: bool = False
    fail_getlogs_from: int = 0  # every eth_getLogs from the n-th on (from 1) gets a server error
    calls: list[tuple[str, Any]] = field(default_factory=list)


@pytest.fixture
async def limited(anvil: Anvil) -> AsyncIterator[LimitedNode]:
    node = LimitedNode(url="")

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        method, params = body["method"], body["params"]
        node.calls.append((method, params))
        if method == "eth_getLogs":
            if 0 < node.fail_getlogs_from <= sum(1 for m, _ in node.calls if m == method):
                error = {"code": -32000, "message": "internal error"}
                return {"jsonrpc": "2.0", "id": body["id"], "error": error}
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            if span > node.limit:
                error = {"code": -32005, "message": "query returned more than 10000 results"}
                return {"jsonrpc": "2.0", "id": body["id"], "error": error}
        reply = await forward(body)
        if method == "eth_getLogs" and node.strip_timestamps:
            for g in reply["result"]:
                g.pop("blockTimestamp", None)
        return reply

    async with node_in_front(anvil, steer) as node.url:
        yield node


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


WRITER_LOCK_KEY = 0x6F72_6466_6368_6169  # store_sql.WRITER_LOCK


@contextlib.asynccontextmanager
async def writer_locked(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """The store's writer lock held by another transaction: every store waits meanwhile."""
    async with pool.acquire() as holder, holder.transaction():
        await holder.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK_KEY)
        yield


async def started_while_locked(
    pool: asyncpg.Pool, transport: HttpTransport, limited: LimitedNode, head: int
) -> asyncio.Task[Any]:
    """A backfill of blocks 1..head in ranges of 4, once it has asked for its second range."""
    run = asyncio.create_task(
        backfiller(pool, EthClient(transport), AdaptiveRange(4, 1, 4)).run(1, head)
    )
    for _ in range(200):
        if sum(1 for m, _ in limited.calls if m == "eth_getLogs") >= 2:
            break
        await asyncio.sleep(0.025)
    return run


async def test_the_next_range_is_read_while_one_is_stored(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    """One range ahead: while the first range waits for the database (its writer lock held
    here), the node is already asked for the second, and no further; then both are stored."""
    await fills_in_blocks(anvil, 12)
    transport = HttpTransport(limited.url)
    async with writer_locked(pool):
        run = await started_while_locked(pool, transport, limited, 12)
        await asyncio.sleep(0.2)  # time enough to read a third range, were it allowed
        ranges = [(int(p[0]["fromBlock"], 16), int(p[0]["toBlock"], 16))
                  for m, p in limited.calls if m == "eth_getLogs"]  # fmt: skip
        assert ranges == [(1, 4), (5, 8)]
        assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    report = await run
    assert report.range_sizes == [4, 4, 4]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 12
    await transport.aclose()


async def test_a_node_failure_stores_every_range_read_before_it(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    """From the third eth_getLogs on the node fails (after the second was read ahead of the
    first's store): the first two ranges are stored, in order, the checkpoint is the second's
    end, and the failure is raised (once the third range, tried again and halved down to one
    block, still fails: an error nobody recognises, RangeRefusals.unrecognised); a new run goes on
    from there and stores each fill once."""
    await fills_in_blocks(anvil, 12)
    transport = HttpTransport(limited.url)
    limited.fail_getlogs_from = 3
    with pytest.raises(RetryableRpcError):
        await backfiller(pool, EthClient(transport), AdaptiveRange(4, 1, 4)).run(1, 12)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 8
    assert await pool.fetchval("SELECT block_number FROM orderflow_sync_checkpoints") == 8
    limited.fail_getlogs_from = 0
    report = await backfiller(pool, EthClient(transport), AdaptiveRange(4, 1, 4)).run(9, 12)
    assert report.range_sizes == [4]
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 12
    await transport.aclose()


async def test_a_stopped_backfill_leaves_no_read_running(
    anvil: Anvil, limited: LimitedNode, pool: asyncpg.Pool
) -> None:
    """Cancelled while a range waits for the database: the read ahead is stopped too, and
    nothing of the unstored ranges reaches the database later."""
    await fills_in_blocks(anvil, 8)
    transport = HttpTransport(limited.url)
    async with writer_locked(pool):
        run = await started_while_locked(pool, transport, limited, 8)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        assert not [t for t in others if "_read_all" in repr(t.get_coro())]
    await asyncio.sleep(0.2)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 0
    await transport.aclose()


async def test_a_bulk_backfill_folds_as_it_goes_to_a_range_by_range_ones_sums(
    anvil: Anvil,
    limited: LimitedNode,
    pool: asyncpg.Pool,
    pg_server_dsn: str,
    pg_template: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A history backfill (bulk): its sums are folded every FOLD_EVERY_FILLS fills and at its
    end, and equal those of the same blocks stored range by range; nothing is left pending."""
    for i in range(20):
        await anvil.emit(order_filled_v2(order_hash=2000 + i, maker=f"0x{i % 3 + 1:040x}"))
    head = await anvil.head()
    folds: list[int] = []
    fold = pending_sums.fold_in

    async def counted(target: asyncpg.Pool) -> int:
        folds.append(await fold(target))
        return folds[-1]

    monkeypatch.setattr(backfill, "fold_in", counted)
    monkeypatch.setattr(pending_sums, "FOLD_EVERY_FILLS", 6)
    # the deferrable indexes (migration 072): left out of the empty partition, built at the end
    unindexed: list[list[str]] = []
    build = partition_indexes.build_missing_in  # what backfill imported

    async def built(target: asyncpg.Pool) -> list[str]:
        async with target.acquire() as conn:
            unindexed.append(await partition_indexes.missing(conn))
        return await build(target)

    monkeypatch.setattr(backfill, "build_missing_in", built)
    transport = HttpTransport(limited.url)
    client = EthClient(transport)
    await backfiller(pool, client, AdaptiveRange(4, 1, 4)).run(1, head, bulk=True)
    assert len(folds) == 3 and all(folds)  # every 2nd range (8 fills), then at the end
    assert unindexed == [["orderflow_trades_p0000"]]
    async with pool.acquire() as conn:
        assert await partition_indexes.missing(conn) == []
    async with scratch_database(pg_server_dsn, template=pg_template, prefix="bf") as url:
        other = await db.create_pool(url, min_size=1, max_size=2)
        try:
            await backfiller(other, client, AdaptiveRange(4, 1, 4)).run(1, head)
            sums = "SELECT * FROM orderflow_position_sums ORDER BY wallet_address, token_id"
            counters = (
                "SELECT wallet_address, total_trades, total_volume_usdc, first_trade_at,"
                " last_trade_at FROM orderflow_wallet_stats ORDER BY wallet_address"
            )
            for query in (sums, counters):
                assert [dict(r) for r in await pool.fetch(query)] == [
                    dict(r) for r in await other.fetch(query)
                ]
        finally:
            await other.close()
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") == 20
    await transport.aclose()
