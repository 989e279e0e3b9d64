"""A hostile or broken node over HTTP: eth_getLogs replies and block headers it rewrites
(anvil behind ``node_in_front``). The WebSocket side is ``test_hostile_node.py``.

The standard: bad input is a clear (retryable) error or a dead letter, nothing else is lost, no
fill is stored twice or invented, and no reply stops the listener for good.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill import Backfiller
from orderflow.chain.backfill_headers import HeaderCache
from orderflow.chain.contracts import MAINNET
from orderflow.chain.listener import Listener
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport
from orderflow.errors import RetryableRpcError
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import Forward, JsonRpc, node_in_front
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    count_is,
    make_settings,
    running,
    stored_trades,
)
from tests.chain_live.logs import order_filled_v2, wait_until, word
from tests.chain_live.test_hostile_node import dead_letters, streaming_or_done

pytestmark = pytest.mark.anvil


@dataclass
class Steering:
    """What the node in front of anvil does to its replies."""

    extra_logs: list[dict[str, Any]]
    broken_headers: int = 0  # the next this many eth_getBlockByNumber replies lose their hash
    broken_field: str = "hash"
    broken_value: Any = None
    reversed_twice: bool = False  # every reply reversed, every log in it twice
    extra_replies: int | None = None  # the next this many replies carry extra_logs (None: all)


@pytest.fixture
async def steered(anvil: Anvil) -> AsyncIterator[tuple[str, Steering]]:
    steering = Steering(extra_logs=[])

    async def steer(body: JsonRpc, forward: Forward) -> JsonRpc:
        reply = await forward(body)
        result = reply.get("result")
        if (
            body["method"] == "eth_getLogs"
            and isinstance(result, list)
            and "fromBlock" in (body["params"][0])
        ):
            extra = steering.extra_replies is None or steering.extra_replies > 0
            logs = [*result, *(steering.extra_logs if extra else [])]
            if extra and steering.extra_replies is not None:
                steering.extra_replies -= 1
            if steering.reversed_twice:
                logs = [g for g in reversed(logs) for _ in range(2)]
            reply["result"] = logs
        if (
            body["method"] == "eth_getBlockByNumber"
            and isinstance(result, dict)
            and steering.broken_headers > 0
        ):
            steering.broken_headers -= 1
            reply["result"] = {**result, steering.broken_field: steering.broken_value}
        return reply

    async with node_in_front(anvil, steer) as url:
        yield url, steering


async def backfill(
    pool: asyncpg.Pool, url: str, start: int, end: int, *, verify_depth: int = 256
) -> None:
    transport = HttpTransport(url)
    client = EthClient(transport)
    try:
        await Backfiller(
            pool,
            client,
            chain_id=137,
            addresses=MAINNET,
            ranges=AdaptiveRange(1000, 1, 1000),
            headers=HeaderCache(client),
            verify_depth=verify_depth,
        ).run(start, end)
    finally:
        await transport.aclose()


@pytest.mark.parametrize(
    "field, value", [("hash", None), ("hash", "0x12"), ("parentHash", 7), ("number", "0x-1")]
)
async def test_a_header_that_does_not_parse_is_retried_never_stored(
    anvil: Anvil,
    steered: tuple[str, Steering],
    pool: asyncpg.Pool,
    field: str,
    value: Any,
) -> None:
    """The backfill node answers its first eight eth_getBlockByNumber with one field broken
    (a pending block's null hash, a short hash …), then honestly. The listener retries (the
    reply is malformed, like an unparseable quantity) and stores every fill once, no dead
    letter. On main the header was taken as read (``str(None)`` is "none") and handed to the
    database, which refused it: every fill of the range became a dead letter "refused by the
    database", the recursion on the refused dead letters ran out of stack, and the listener
    stopped."""
    url, steering = steered
    for i in range(3):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    steering.broken_headers = 8
    steering.broken_field = field
    steering.broken_value = value
    listener = Listener(pool, make_settings(anvil.ws_url, POLYGON_HTTP_URL=url))
    async with running(listener) as task:
        await wait_until(
            lambda: streaming_or_done(listener, task), what="streaming (or the listener stopped)"
        )
        assert not task.done(), task.exception()
        await anvil.emit(order_filled_v2(order_hash=9))
        await wait_until(count_is(pool, 4), what="every fill stored")
    assert steering.broken_headers == 0
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await dead_letters(pool) == []
    held = await pool.fetch("SELECT block_hash FROM orderflow_blocks")
    assert all(len(r[0]) == 66 for r in held)


@pytest.mark.parametrize("depth", ["below the reorg window", "within the reorg window"])
async def test_a_log_outside_the_range_asked_for_is_a_dead_letter(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool, depth: str
) -> None:
    """Every eth_getLogs reply also carries a copy of a real fill naming a block the node has
    not mined (above its head) and one naming a block below the range. Neither was asked for:
    each is a dead letter saying so, every real fill is stored once, the checkpoint reaches the
    head. On main the copy above the head was stored as a trade (an invented fill, at a block
    whose real logs would then collide with it) when below the reorg window, and within it the
    range was read again as if the chain moved, forever (the session ended, the next one read
    it again)."""
    url, steering = steered
    for i in range(4):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    real = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}))[0]
    steering.extra_logs = [
        {**real, "blockNumber": hex(head + 1_000), "logIndex": "0x7"},
        {**real, "blockNumber": "0x0", "logIndex": "0x8"},
    ]
    await backfill(pool, url, 1, head, verify_depth=2 if depth.startswith("below") else 256)
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await checkpoint(pool) == head
    reasons = await dead_letters(pool)
    assert len(reasons) == 2, reasons
    assert all("outside the range" in r for r in reasons), reasons


async def test_a_reply_out_of_order_with_every_log_twice_stores_each_fill_once(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool
) -> None:
    """Every eth_getLogs reply comes reversed, each log in it twice: each fill is stored once,
    exactly as the node holds it, and the checkpoint reaches the head."""
    url, steering = steered
    for i in range(3):
        await anvil.emit_block([order_filled_v2(order_hash=10 * i + j) for j in range(3)])
    head = await anvil.head()
    steering.reversed_twice = True
    await backfill(pool, url, 1, head)
    assert len(await canonical_fills(anvil)) == 9
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await checkpoint(pool) == head
    assert await dead_letters(pool) == []


async def test_a_log_naming_another_block_hash_holds_its_range_never_stored(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool
) -> None:
    """Every reply also carries a copy of a real fill naming a made-up hash for its block
    (within the reorg window). The range is read again, then the backfill stops with a clear,
    retryable error naming the block and both hashes: nothing of the range is stored, the
    checkpoint does not move. Not a dead letter on purpose: a lagging backend answers an old
    fork's logs the same way, and taking the rest of its reply could lose the canonical block's
    fills (passes on main: a record of the behaviour)."""
    url, steering = steered
    for i in range(2):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    real = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}))[0]
    steering.extra_logs = [{**real, "blockHash": "0x" + "ab" * 32, "logIndex": "0x7"}]
    with pytest.raises(RetryableRpcError, match="kept changing while read") as raised:
        await backfill(pool, url, 1, head)
    assert "0x" + "ab" * 32 in str(raised.value)
    assert await stored_trades(pool) == []
    assert await checkpoint(pool) is None


async def test_logs_of_an_unwatched_address_or_the_wrong_shape_are_dead_letters(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool
) -> None:
    """Every eth_getLogs reply, reversed with each log twice, also carries copies of a real fill
    from an address nobody watches, with three topics, and with its data cut short. Each copy
    is one dead letter naming what is wrong; every real fill is stored once and the checkpoint
    reaches the head (passes before 6 Dec 2026 too: a control of the backfill path, where the
    decoder's own tests hold these shapes one log at a time)."""
    url, steering = steered
    for i in range(2):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    real = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}))[0]
    steering.extra_logs = [
        {**real, "address": "0x" + "de" * 20, "logIndex": "0x9"},
        {**real, "topics": real["topics"][:3], "logIndex": "0xa"},
        {**real, "data": real["data"][:100], "logIndex": "0xb"},
    ]
    steering.reversed_twice = True
    await backfill(pool, url, 1, head)
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await checkpoint(pool) == head
    assert sorted(await dead_letters(pool)) == [
        "OrderFilled (V2) data is 49 bytes, expected 224",
        "OrderFilled (V2) has 3 topics, expected 4",
        "log from 0x" + "de" * 20 + ", which is neither a watched exchange, the CTF, a FeeModule "
        "nor the NegRiskAdapter",
    ]


def _other_amount(real: dict[str, Any]) -> dict[str, Any]:
    """``real`` with another maker amount (USDC 9.999999 instead of 3.55): its identity
    (transaction, log index, block number and hash) unchanged."""
    data = real["data"]
    return {**real, "data": data[: 2 + 2 * 64] + word(9_999_999) + data[2 + 3 * 64 :]}


async def _sizes(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT usdc_size::text FROM orderflow_trades ORDER BY block_number")
    return [r[0] for r in rows]


@pytest.mark.parametrize("reverse", [False, True], ids=["node's first", "node's last"])
async def test_a_reply_holding_two_versions_of_a_log_stores_neither(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool, reverse: bool
) -> None:
    """Every eth_getLogs reply also carries a second version of a real fill: same transaction,
    log index, block number and hash, another amount. A node never sends two versions of one
    log, so the range is read again; the node keeps answering so: both versions are dead
    letters saying the reply itself held them, neither is stored, the other fills are, and the
    checkpoint reaches the head. Before 6 Dec 2026 whichever version the replace loop ended on
    was stored (the fake 9.999999 when the reply was reversed) and the other became a dead
    letter blaming "an imported row, or a fork's left over"."""
    url, steering = steered
    for i in range(2):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    real = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}))[0]
    steering.extra_logs = [_other_amount(real)]
    steering.reversed_twice = reverse
    await backfill(pool, url, 1, head)
    assert await _sizes(pool) == ["3.550000"]
    assert await stored_trades(pool) == (await canonical_fills(anvil))[1:]
    assert await checkpoint(pool) == head
    reasons = await dead_letters(pool)
    assert len(reasons) == 2, reasons
    assert all("reply itself held 2 versions" in r for r in reasons), reasons


async def test_two_versions_of_a_log_read_again_store_the_one_the_node_then_sends(
    anvil: Anvil, steered: tuple[str, Steering], pool: asyncpg.Pool
) -> None:
    """The first eth_getLogs reply carries a second version of a real fill (another amount),
    the next ones are honest: the range is read again and the node's log stored, no dead
    letter."""
    url, steering = steered
    for i in range(2):
        await anvil.emit(order_filled_v2(order_hash=1 + i))
    head = await anvil.head()
    real = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)}))[0]
    steering.extra_logs = [_other_amount(real)]
    steering.extra_replies = 1
    steering.reversed_twice = True  # the fake version first
    await backfill(pool, url, 1, head)
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await _sizes(pool) == ["3.550000", "3.550000"]
    assert await dead_letters(pool) == []
