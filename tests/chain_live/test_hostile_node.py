"""A hostile or broken node over the WebSocket: heads that do not parse, subscriptions answered
wrongly or never, notifications under an id never confirmed, eth_blockNumber going backwards,
an old log replayed (anvil behind the stand-in, ``standin.py``). Its eth_getLogs replies and
block headers over HTTP: ``test_hostile_replies.py``.

The standard: bad input is a clear (retryable) error or a dead letter, nothing else is lost, no
fill is stored twice or invented, and no reply stops the listener for good.
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
    checkpoint,
    count_is,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until, word
from tests.chain_live.standin import StandIn

pytestmark = pytest.mark.anvil


async def dead_letters(pool: asyncpg.Pool) -> list[str]:
    return [r[0] for r in await pool.fetch("SELECT reason FROM orderflow_dead_letters")]


@pytest.mark.parametrize(
    "field, value",
    [
        ("timestamp", "0x" + "f" * 20),  # OverflowError in datetime.fromtimestamp
        ("timestamp", hex(2**62)),  # OSError (EOVERFLOW)
        ("number", hex(2**64)),  # past the ledger's BIGINT
        ("hash", "0x12"),  # not a block hash
        ("parentHash", None),
    ],
)
async def test_a_head_that_does_not_parse_is_ignored(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool, field: str, value: Any
) -> None:
    """After every real head the node sends a copy with one field broken. The listener ignores
    the copy, stores every fill and keeps streaming. On main a timestamp past the platform's
    time_t ended the listener (OverflowError is neither caught nor retried)."""
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")

        def broken(head: dict[str, Any]) -> list[str]:
            return [json.dumps({**head, field: value})]

        standin.mutate_head = broken
        for i in range(3):
            await anvil.emit(order_filled_v2(order_hash=100 + i))

        async def injected() -> bool:
            return standin.injected >= 3

        await wait_until(injected, what="three broken heads sent")
        standin.mutate_head = None
        await anvil.emit(order_filled_v2(order_hash=200))
        await wait_until(count_is(pool, 4), what="every fill stored")
        assert not task.done(), task.exception() if task.done() else None
        assert standin.injected > 0
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await dead_letters(pool) == []


async def test_an_eth_subscribe_answered_without_an_id_is_retried(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """The node answers the first ``eth_subscribe`` with ``result: null`` (a proxy's hiccup):
    a malformed reply like any other, retried after a backoff; the listener then streams. On
    main it was a FatalRpcError and ``orderflow listen`` exited, although only a wrong chain,
    bad credentials and an unsupported method are fatal (docs/listener.md)."""
    await anvil.emit(order_filled_v2(order_hash=1))
    answered: list[str] = []

    def rewrite(method: str, params: list[Any], reply: dict[str, Any]) -> dict[str, Any] | None:
        if method != "eth_subscribe":
            return None
        answered.append(method)
        return {**reply, "result": None} if len(answered) == 1 else None

    standin.rewrite_reply = rewrite
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(
            lambda: streaming_or_done(listener, task), what="streaming (or the listener stopped)"
        )
        assert not task.done(), task.exception()
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="both fills stored")
        assert listener.state.reconnects >= 1
    assert await stored_trades(pool) == await canonical_fills(anvil)


@pytest.mark.parametrize("given", ["another id", "the newHeads id"])
async def test_logs_sent_under_an_id_never_confirmed_are_read_again(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool, given: str
) -> None:
    """The node confirms the first ``logs`` subscription with an id it never sends the logs
    under (another id; or the newHeads subscription's id, so that heads and logs share one),
    and sends them under their real id. The logs must not be lost: the session ends at the
    first such notification and the next one reads the chain again from its block. On main
    they were dropped as "a late message of a subscription we already dropped" while the
    heads moved the checkpoint past them: the fill was never stored."""
    subscribed: list[str] = []

    def rewrite(method: str, params: list[Any], reply: dict[str, Any]) -> dict[str, Any] | None:
        if method != "eth_subscribe" or not isinstance(reply.get("result"), str):
            return None
        subscribed.append(reply["result"])
        if len(subscribed) != 2:  # the first session's logs subscription only
            return None
        fake = "0xdeadbeef" if given == "another id" else subscribed[0]
        return {**reply, "result": fake}

    standin.rewrite_reply = rewrite
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="both fills stored")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await dead_letters(pool) == []


async def test_an_eth_subscribe_never_answered_is_retried(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """The node never answers the first ``eth_subscribe``: it times out (RPC_TIMEOUT_SECS), the
    session is retried, the next one streams, every fill is stored."""
    await anvil.emit(order_filled_v2(order_hash=1))
    asked: list[str] = []

    def rewrite(method: str, params: list[Any], reply: dict[str, Any]) -> dict[str, Any] | None:
        if method != "eth_subscribe":
            return None
        asked.append(method)
        return {} if len(asked) == 1 else None

    standin.rewrite_reply = rewrite
    listener = Listener(pool, make_settings(standin.url, RPC_TIMEOUT_SECS=1))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="both fills stored")
        assert not task.done()
        assert listener.state.reconnects >= 1
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_a_block_mined_while_subscribing_is_read_whatever_eth_block_number_says(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """A block with a fill is mined between the session's two subscriptions, and from then on
    the node answers eth_blockNumber two blocks lower than before (backwards: a load-balanced
    endpoint's lagging backend). Its logs never come on the subscription (it did not exist yet),
    so only eth_getLogs can read them. On main the heads were subscribed first, and the block
    whose head arrived was taken as covered by the subscription unless eth_blockNumber (read
    after subscribing) reached it: the fill was lost, the checkpoint moved past it."""
    mined: list[int] = []
    subscribes = 0

    async def before(method: str, params: list[Any]) -> None:
        nonlocal subscribes
        if method != "eth_subscribe":
            return
        subscribes += 1
        if subscribes == 2:  # between the first session's two subscriptions
            await anvil.emit(order_filled_v2(order_hash=1))
            mined.append(await anvil.head())

    def rewrite(method: str, params: list[Any], reply: dict[str, Any]) -> dict[str, Any] | None:
        if method == "eth_blockNumber" and mined and isinstance(reply.get("result"), str):
            return {**reply, "result": hex(max(int(reply["result"], 16) - 2, 0))}
        return None

    await anvil.mine(3)
    standin.before_request = before
    standin.rewrite_reply = rewrite
    listener = Listener(pool, make_settings(standin.url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        assert mined, "no block was mined between the subscriptions"
        await anvil.emit(order_filled_v2(order_hash=2))
        await anvil.mine(2)
        await wait_until(
            lambda: _checkpoint_at_least(pool, mined[0] + 2), what="checkpoint past the block"
        )
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert len(await stored_trades(pool)) == 2


async def _checkpoint_at_least(pool: asyncpg.Pool, block: int) -> bool:
    return (await checkpoint(pool) or 0) >= block


async def streaming_or_done(listener: Listener, task: Any) -> bool:
    return bool(listener.state.streaming or task.done())


async def test_an_old_log_the_session_ends_with_is_read_again_alone(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """The node replays a log of an old block (block 1, its real hash; far below the reorg
    window) on the subscription and drops the connection before it is stored. Only that block
    is read again, as a file's retraction has it read: one eth_getLogs of block 1. On main the
    checkpoint was moved back below it, and the next session read every block since (on
    Polygon, possibly years of eth_getLogs; one such message per session keeps the listener
    re-reading for good)."""
    await anvil.emit(order_filled_v2(order_hash=1))
    old = (await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"}))[0]
    await anvil.mine(40)
    settings = make_settings(  # no condition sync: its eth_getLogs would be counted too
        standin.url, REORG_WINDOW_BLOCKS=16, LIVE_FLUSH_SECS=5, CONDITION_SYNC=False
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        first_session = len(standin.getlogs_calls)

        def replay(raw: dict[str, Any]) -> list[str]:
            return [json.dumps(old)] if raw.get("transactionHash") != old["transactionHash"] else []

        standin.mutate = replay
        standin.close_after_injecting = 1
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(lambda: _reconnected(listener), what="the node's drop seen")
        standin.mutate = None
        await wait_until(streaming(listener), what="streaming again")
        await wait_until(count_is(pool, 2), what="both fills stored")
        assert not task.done()
    later = standin.getlogs_calls[first_session:]
    assert (1, 1) in later, later
    assert [c for c in later if c[0] <= 1 and c != (1, 1)] == [], later
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_reread_blocks") == 0


async def _reconnected(listener: Listener) -> bool:
    return listener.state.reconnects >= 1


async def test_a_node_behind_what_was_stored_rolls_nothing_back(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """A first listener stores three fills. The next one starts against a node three blocks
    behind them (restarted, resyncing, a lagging backend): its eth_blockNumber is lower and it
    has no block above that. Nothing is rolled back: the stored fills keep their rows (ids),
    no reorg is counted, and once the node has caught up a new fill is stored. On main the
    missing block was taken for a reorg while away: the fills above the node's head were
    deleted (to be stored again later, under new ids), and a node behind the whole reorg
    window stopped the listener with ReorgError."""
    first = Listener(pool, make_settings(anvil.ws_url))
    async with running(first):
        await wait_until(streaming(first), what="streaming")
        for i in range(3):
            await anvil.emit(order_filled_v2(order_hash=1 + i))
        head = await anvil.head()
        await wait_until(count_is(pool, 3), what="fills stored")
    ids = await pool.fetch("SELECT id, log_index, block_number FROM orderflow_trades ORDER BY id")
    assert len(ids) == 3
    behind = head - 3
    lagging = True

    def rewrite(method: str, params: list[Any], reply: dict[str, Any]) -> dict[str, Any] | None:
        if not lagging:
            return None
        if method == "eth_blockNumber":
            return {**reply, "result": hex(behind)}
        if method == "eth_getBlockByNumber" and params and int(params[0], 16) > behind:
            return {**reply, "result": None}
        return None

    standin.rewrite_reply = rewrite
    second = Listener(pool, make_settings(standin.url))
    async with running(second) as task:
        await wait_until(streaming(second), what="streaming against the node behind")
        lagging = False
        await anvil.emit(order_filled_v2(order_hash=9))
        await wait_until(count_is(pool, 4), what="a new fill stored")
        assert not task.done()
    after = await pool.fetch("SELECT id, log_index, block_number FROM orderflow_trades ORDER BY id")
    assert [tuple(r) for r in after[:3]] == [tuple(r) for r in ids]
    assert second.state.reorgs == 0
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_a_notification_batch_holding_two_versions_of_a_log_stores_neither(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """The node sends a second fill's log twice on the subscription, the second time with
    another amount (same transaction, log index, block number and hash), and its eth_getLogs
    replies do the same. The batch is not trusted: its heights are read with eth_getLogs, the
    node keeps answering so, and both versions are dead letters saying the reply itself held
    them; the first fill is stored, the second in neither version. Before 6 Dec 2026 the
    version the replace loop ended on was stored (the fake 9.999999) and the other a dead
    letter blaming "an imported row, or a fork's left over"."""
    await anvil.emit(order_filled_v2(order_hash=1))
    listener = Listener(pool, make_settings(standin.url, CONDITION_SYNC=False))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(count_is(pool, 1), what="the first fill stored")

        def second_version(raw: dict[str, Any]) -> list[str]:
            if raw["topics"][1] != order_filled_v2(order_hash=2)["topics"][1]:
                return []
            data = raw["data"]
            return [json.dumps({**raw, "data": data[:130] + word(9_999_999) + data[194:]})]

        standin.mutate = second_version
        await anvil.emit(order_filled_v2(order_hash=2))
        await anvil.mine(4)

        async def a_letter() -> bool:
            return len(await dead_letters(pool)) > 0

        await wait_until(a_letter, what="a dead letter")
        assert not task.done()
    sizes = await pool.fetch("SELECT usdc_size::text FROM orderflow_trades")
    assert [r[0] for r in sizes] == ["3.550000"]
    assert await stored_trades(pool) == (await canonical_fills(anvil))[:1]
    reasons = await dead_letters(pool)
    assert len(reasons) == 2 and all("reply itself held 2 versions" in r for r in reasons), reasons
