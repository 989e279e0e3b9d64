"""Reorgs the listener must survive beyond the easy case (issue 13, item 3), on a real anvil.

(a) a reorg while the listener is stopped right after a backfill: the fork point must be found
    among the headers of every block that holds a stored log, not only each range's end;
(b) a reorg plus skipped heads on a node that never sends ``removed: true``;
(c) a reorg between a range's eth_getLogs and the fetch of its headers;
(d) a reorg reaching below the range being read, in a backfill of several ranges;
(e) as (c), the replaced blocks all above the reply's last log;
(f) a late log of a block replaced while its heads were skipped.

Each test ends with the database equal to what the node holds (every canonical fill stored
once, no orphan) and the listener still running.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest

from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil, relay_calldata
from tests.chain_live.in_front import Forward, JsonRpc, WsRelay, node_in_front
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    count_is,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until

pytestmark = pytest.mark.anvil


def replacement(anvil: Anvil, order_hash: int) -> dict[str, Any]:
    """A transaction emitting one fill, in the shape anvil_reorg takes."""
    raw = order_filled_v2(order_hash=order_hash, side=1, maker_amount=5_000_000)
    return {
        "from": anvil.account,
        "to": raw["address"],
        "data": relay_calldata(raw["topics"], raw["data"]),
        "gas": hex(1_000_000),
    }


def is_canonical(pool: asyncpg.Pool, anvil: Anvil) -> Any:
    async def check() -> bool:
        return await stored_trades(pool) == await canonical_fills(anvil)

    return check


async def test_a_reorg_while_stopped_right_after_a_backfill(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    for i in range(4):  # blocks 1-4, stored by ONE backfill range
        await anvil.emit(order_filled_v2(order_hash=10 + i))
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(count_is(pool, 4), what="the backfill")
        await wait_until(streaming(listener), what="streaming")
    # Stopped: blocks 2-4 are replaced; the new block 2 holds another fill.
    await anvil.rpc("anvil_reorg", 3, [[replacement(anvil, 99), 0]])
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener) as task:
        await wait_until(is_canonical(pool, anvil), what="the canonical chain after restart")
        await wait_until(streaming(listener), what="streaming after restart")
        await anvil.emit(order_filled_v2(order_hash=50))
        await wait_until(count_is(pool, 3), what="a live fill after the repair")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert listener.state.reorgs == 1
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 3


async def test_b_reorg_with_skipped_heads_and_no_removed_logs(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(relay.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        snapshot = await anvil.rpc("evm_snapshot")
        await anvil.emit(order_filled_v2(order_hash=1))
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="two fills")
        orphaned = await stored_trades(pool)
        # The node reorganises and announces none of the new chain's first three heads.
        relay.drop_heads = True
        await anvil.rpc("evm_revert", snapshot)
        await anvil.emit(
            order_filled_v2(order_hash=3, side=1, maker_amount=5_000_000, taker_amount=3_550_000)
        )
        await anvil.emit(order_filled_v2(order_hash=4))
        await anvil.mine(1)

        async def three_withheld() -> bool:
            return len(relay.dropped) >= 3

        await wait_until(three_withheld, what="heads 1-3 of the new chain withheld")
        relay.drop_heads = False
        await anvil.mine(1)  # head 4 of the new chain: two or more heights above the last
        await wait_until(is_canonical(pool, anvil), what="the canonical chain")
        assert not task.done()
    assert len(relay.dropped) >= 3
    stored = await stored_trades(pool)
    assert len(stored) == 2 and not set(orphaned) & set(stored)
    assert listener.state.reorgs >= 1
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 2


@dataclass
class ReorgingNode:
    """HTTP JSON-RPC in front of anvil: reorganises the chain right after one eth_getLogs."""

    url: str = ""
    reorg_after_getlogs: tuple[int, list[Any]] | None = None  # anvil_reorg's parameters
    calls: list[str] = field(default_factory=list)


@pytest.fixture
async def reorging(anvil: Anvil) -> AsyncIterator[ReorgingNode]:
    node = ReorgingNode()

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        node.calls.append(body["method"])
        reply = await forward(body)
        if body["method"] == "eth_getLogs" and node.reorg_after_getlogs and reply["result"]:
            depth, txs = node.reorg_after_getlogs
            node.reorg_after_getlogs = None
            await anvil.rpc("anvil_reorg", depth, txs)  # the reply below is now stale
        return reply

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def test_c_reorg_between_getlogs_and_the_header_fetch(
    anvil: Anvil, reorging: ReorgingNode, pool: asyncpg.Pool
) -> None:
    for i in range(3):  # fills in blocks 1-3, then two empty blocks: the range ends at 5
        await anvil.emit(order_filled_v2(order_hash=20 + i))
    await anvil.mine(2)
    reorging.reorg_after_getlogs = (4, [[replacement(anvil, 77), 0]])  # blocks 2-5 replaced
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=reorging.url)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(is_canonical(pool, anvil), what="the canonical chain")
        await anvil.emit(order_filled_v2(order_hash=30))
        await wait_until(count_is(pool, 3), what="a live fill")
        assert not task.done()
    assert reorging.reorg_after_getlogs is None  # the reorg did happen mid-range
    assert await stored_trades(pool) == await canonical_fills(anvil)


@dataclass
class ReorgBeforeRange:
    """HTTP JSON-RPC in front of anvil: reorganises the chain just before the eth_getLogs of
    the range starting at ``from_block`` (a range of the same backfill is stored or read)."""

    url: str = ""
    from_block: int = 0
    reorg: tuple[int, list[Any]] | None = None  # anvil_reorg's parameters


@pytest.fixture
async def reorg_before_range(anvil: Anvil) -> AsyncIterator[ReorgBeforeRange]:
    node = ReorgBeforeRange()

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        if (
            body["method"] == "eth_getLogs"
            and node.reorg is not None
            and body["params"][0].get("fromBlock") == hex(node.from_block)
        ):
            depth, txs = node.reorg
            node.reorg = None
            await anvil.rpc("anvil_reorg", depth, txs)
        return await forward(body)

    async with node_in_front(anvil, steer) as node.url:
        yield node


async def test_d_reorg_below_the_range_being_read_in_a_multi_range_backfill(
    anvil: Anvil, reorg_before_range: ReorgBeforeRange, pool: asyncpg.Pool
) -> None:
    for i in range(4):  # fills in blocks 1-4; ranges of two blocks: [0, 1], [2, 3], [4, 4]
        await anvil.emit(order_filled_v2(order_hash=40 + i))
    # Once the first range (block 1's fill) is read, blocks 1-4 are replaced: the new block 1
    # holds another fill. The later ranges read the new chain, consistent with its headers.
    reorg_before_range.from_block = 2
    reorg_before_range.reorg = (4, [[replacement(anvil, 88), 0]])
    settings = make_settings(
        anvil.ws_url,
        POLYGON_HTTP_URL=reorg_before_range.url,
        GETLOGS_INITIAL_BLOCKS=2,
        GETLOGS_MAX_BLOCKS=2,
        CONDITION_SYNC=False,
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(is_canonical(pool, anvil), what="the canonical chain")
        await anvil.emit(order_filled_v2(order_hash=45))
        await wait_until(count_is(pool, 2), what="a live fill")
        assert not task.done()
    assert reorg_before_range.reorg is None  # the reorg did happen between two ranges
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 2


async def test_e_reorg_between_getlogs_and_the_header_fetch_above_the_last_log(
    anvil: Anvil, reorging: ReorgingNode, pool: asyncpg.Pool
) -> None:
    """(e) As (c), but the replaced blocks held none of our logs: the reply's only log (block
    1) is below the fork, so no log contradicts the headers read after it, while the new block
    3 holds a fill the stale reply never had. Before the fix the range's end header, read after
    the reply, was the new chain's and was stored with the checkpoint: the fill of the new
    block 3 was never stored (an audit, 4 Dec 2026). Now the end header is read before the
    reply too, and a change reads the range again."""
    await anvil.emit(order_filled_v2(order_hash=60))  # block 1
    await anvil.mine(4)  # blocks 2-5, none of our logs
    reorging.reorg_after_getlogs = (3, [[replacement(anvil, 66), 0]])  # blocks 3-5 replaced
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=reorging.url, CONDITION_SYNC=False)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(is_canonical(pool, anvil), what="the canonical chain")
        await anvil.emit(order_filled_v2(order_hash=61))
        await wait_until(count_is(pool, 3), what="a live fill")
        assert not task.done()
    assert reorging.reorg_after_getlogs is None  # the reorg did happen mid-range
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 3


async def test_f_a_late_log_of_a_block_replaced_while_its_heads_were_skipped(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """(f) A node that sends a block's logs after its head, skips heads around a reorg and
    never sends ``removed: true``: block N's fill comes after the reorg was repaired (the
    skipped heights read with eth_getLogs, whose headers hold no block N: the new N has none
    of our logs). Before the fix the late log was checked against no header and stored: an
    orphaned fill counted as a trade (an audit, 4 Dec 2026)."""
    listener = Listener(pool, make_settings(relay.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        snapshot = await anvil.rpc("evm_snapshot")
        relay.hold(logs_only=True)  # heads pass, logs wait
        await anvil.emit(order_filled_v2(order_hash=70))  # block N of the old chain
        old = await anvil.head()

        async def saw_old_head() -> bool:
            return (listener.state.head or 0) >= old

        await wait_until(saw_old_head, what="the old chain's head")
        relay.drop_heads = True
        await anvil.rpc("evm_revert", snapshot)
        await anvil.mine(2)  # N and N + 1 of the new chain, their heads withheld

        async def two_withheld() -> bool:
            return len(relay.dropped) >= 2

        await wait_until(two_withheld, what="two heads of the new chain withheld")
        relay.drop_heads = False
        await anvil.mine(1)  # N + 2: heads skipped and block N replaced: repaired

        async def repaired() -> bool:
            return listener.state.reorgs >= 1 and (await checkpoint(pool) or 0) >= old + 1

        await wait_until(repaired, what="the repair")
        relay.release()
        await relay.send_held()  # the old block N's fill, late
        live = await anvil.emit(order_filled_v2(order_hash=71))  # after it, same connection

        async def live_stored() -> bool:
            return live in {t[0] for t in await stored_trades(pool)}

        await wait_until(live_stored, what="the live fill")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 1
