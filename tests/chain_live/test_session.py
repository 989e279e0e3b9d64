"""A LiveSession driven step by step (no streaming loop): removed logs, duplicates, flushing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.listener_state import ListenerState
from orderflow.chain.live import LiveSession
from orderflow.chain.reorg import BlockWindow
from orderflow.chain.rpc import EthClient, Header
from orderflow.chain.rpc_ws import WsTransport
from orderflow.chain.settings import ListenerSettings
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.logs import malformed_fill, order_filled_v2

pytestmark = pytest.mark.anvil


@pytest.fixture
async def session(anvil: Anvil, pool: asyncpg.Pool) -> AsyncIterator[LiveSession]:
    settings = ListenerSettings(POLYGON_RPC_URL=anvil.ws_url, CONFIRMATIONS=0, START_BLOCK=0)
    async with WsTransport(anvil.ws_url) as ws:
        s = LiveSession(
            pool,
            ws,
            EthClient(ws),
            settings,
            state=ListenerState(),
            metrics=IngestMetrics(),
            window=BlockWindow(64),
            ranges=AdaptiveRange(100, 1, 100),
        )
        await s.catch_up()
        yield s


async def last_log_and_head(anvil: Anvil) -> tuple[dict[str, Any], Header]:
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    head = await anvil.rpc("eth_getBlockByNumber", "latest", False)
    return logs[-1], Header.from_rpc(head)


async def count(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM orderflow_trades"))


async def test_duplicate_notifications_store_one_row(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    await anvil.emit(order_filled_v2(order_hash=1))
    raw, head = await last_log_and_head(anvil)
    await session.on_log(raw)
    await session.on_log(dict(raw))
    await session.on_head(head)
    await session.on_head(head)  # a repeated head is ignored
    await session.on_log(raw)  # and the log once more, after its block was stored
    await session.flush()
    assert await count(pool) == 1
    assert session.state.reorgs == 0


async def test_removed_log_rolls_back_and_reingests_canonical(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    """anvil never sends ``removed: true``; hand the session one, as geth would on a reorg."""
    await anvil.emit(order_filled_v2(order_hash=1))
    raw, head = await last_log_and_head(anvil)
    await session.on_log(raw)
    await session.on_head(head)
    assert await count(pool) == 1

    await anvil.rpc("anvil_reorg", 1, [])  # the block is replaced by an empty one
    await session.on_log({**raw, "removed": True})
    assert session.state.reorgs == 1
    assert await count(pool) == 0
    await session.flush()  # re-ingest of the canonical block: nothing there now
    assert await count(pool) == 0
    assert session.state.checkpoint == head.number
    stored = await pool.fetchval(
        "SELECT block_hash FROM orderflow_sync_checkpoints WHERE stream = 'listener'"
    )
    new_head = await anvil.rpc("eth_getBlockByNumber", hex(head.number), False)
    assert stored == new_head["hash"] != head.hash


async def test_removed_log_naming_another_hash_than_the_held_block_is_ignored(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    """A removal retracts one block (number and hash). Naming a height we hold under another
    hash (the head that replaced it came first, or a hostile value such as block 0 with a
    later block's hash) retracts nothing of ours: no rollback, no reorg counted."""
    await anvil.emit(order_filled_v2(order_hash=1))
    raw, head = await last_log_and_head(anvil)
    await session.on_log(raw)
    await session.on_head(head)
    assert await count(pool) == 1
    await session.on_log({**raw, "removed": True, "blockHash": "0x" + "99" * 32})
    lowest = session.window.lowest
    assert lowest is not None and lowest < head.number
    await session.on_log({**raw, "removed": True, "blockNumber": hex(lowest)})
    await session.flush()
    assert session.state.reorgs == 0
    assert await count(pool) == 1


async def test_log_of_an_orphaned_block_is_not_stored(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    await anvil.emit(order_filled_v2(order_hash=1))
    raw, head = await last_log_and_head(anvil)
    await session.on_head(head)
    # A late log claiming the same height under another block hash (an orphan).
    await session.on_log({**raw, "blockHash": "0x" + "99" * 32})
    await session.flush()
    assert await count(pool) == 0
    await session.on_log(raw)
    await session.flush()
    assert await count(pool) == 1


async def test_dead_letters_are_logged_with_their_identity(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession, caplog: pytest.LogCaptureFixture
) -> None:
    tx = await anvil.emit(malformed_fill(1))
    raw, head = await last_log_and_head(anvil)
    caplog.set_level(logging.WARNING, logger="orderflow.chain.live")
    await session.on_log(raw)
    await session.on_head(head)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1
    [record] = [r for r in caplog.records if "dead letter" in r.getMessage()]
    assert record.__dict__["tx_hash"] == tx
    assert record.__dict__["log_index"] == 0


async def test_every_hundredth_head_drops_the_change_log_past_its_bound(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    """No reputation run takes the log of changed position sums (migration 030): the listener
    bounds it with the run's other change logs (migration 057), checking every hundredth head,
    not every batch."""
    changes = "SELECT count(*) FROM orderflow_position_sums_changes"
    session.settings = ListenerSettings(
        POLYGON_RPC_URL=anvil.ws_url, CONFIRMATIONS=0, START_BLOCK=0, REPUTATION_CHANGES_MAX_ROWS=1
    )
    for n in (1, 2):
        await anvil.emit(order_filled_v2(order_hash=n))
        raw, head = await last_log_and_head(anvil)
        await session.on_log(raw)
        await session.on_head(head)
    assert await pool.fetchval(changes) > 1, "a key logged for each batch"
    assert session.capping is None, "not checked before the hundredth head"
    session._heads_seen = 99  # the next head is the hundredth
    await anvil.emit(order_filled_v2(order_hash=3))
    raw, head = await last_log_and_head(anvil)
    await session.on_log(raw)
    await session.on_head(head)
    assert session.capping is not None
    await session.capping  # off the head handler (below)
    assert await pool.fetchval(changes) == 0
    assert await count(pool) == 3


async def test_a_head_is_stored_while_the_change_logs_bound_waits(
    anvil: Anvil, pool: asyncpg.Pool, session: LiveSession
) -> None:
    """The bound of the reputation run's change logs is checked and applied off the live path:
    the hundredth head's block is stored and the handler returns (the next head is handled)
    while the check still waits on the database."""
    changes = "SELECT count(*) FROM orderflow_position_sums_changes"
    session.settings = ListenerSettings(
        POLYGON_RPC_URL=anvil.ws_url, CONFIRMATIONS=0, START_BLOCK=0, REPUTATION_CHANGES_MAX_ROWS=1
    )
    for n in (1, 2):
        await anvil.emit(order_filled_v2(order_hash=n))
        raw, head = await last_log_and_head(anvil)
        await session.on_log(raw)
        await session.on_head(head)
    session._heads_seen = 99  # the next head is the hundredth
    async with pool.acquire() as holder, holder.transaction():
        # a lock the bound's marking of the next run waits for (and the store never takes)
        await holder.execute("LOCK TABLE orderflow_reputation_state IN ACCESS EXCLUSIVE MODE")
        for n in (3, 4):
            await anvil.emit(order_filled_v2(order_hash=n))
            raw, head = await last_log_and_head(anvil)
            await session.on_log(raw)
            async with asyncio.timeout(10):
                await session.on_head(head)
            assert await count(pool) == n, "stored at once"
        assert await pool.fetchval(changes) > 1
    assert session.capping is not None
    await session.capping
    assert await pool.fetchval(changes) == 0
