"""No silent loss under overload (issue 13, item 2): a flooded subscription queue.

The issue's repro, step by step, with SUBSCRIPTION_QUEUE_SIZE=10: storage stalls (the test
holds the ledger writers' advisory lock), the queue fills with blocks 2-6, the first of the
three logs of the crowded block 7 finds it full and is dropped; storage comes back (slowly:
a test-only trigger sleeps in every checkpoint write) and, while the queue is being worked
off, the node's next messages arrive — block 7's other two logs, its head, more blocks.
Before the fix the transport accepted them, the checkpoint passed block 7 and the reconnect
backfilled after it: block 7 ended with 2 of its 3 fills, for good.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from orderflow.chain import store_sql
from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import WsRelay
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    make_settings,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until

pytestmark = pytest.mark.anvil

SLOW_STORAGE = """
CREATE FUNCTION test_slow_store() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$;
CREATE TRIGGER test_slow_store AFTER INSERT OR UPDATE ON orderflow_sync_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION test_slow_store();
"""


async def test_flooded_subscription_resynchronises_from_the_first_dropped_block(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(relay.ws_url, SUBSCRIPTION_QUEUE_SIZE=10))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        start = await anvil.head()
        relay.hold()
        for i in range(6):
            await anvil.emit(order_filled_v2(order_hash=100 + i))
        crowded = await anvil.emit_block([order_filled_v2(order_hash=200 + i) for i in range(3)])
        for i in range(3):
            await anvil.emit(order_filled_v2(order_hash=300 + i))

        async def all_held() -> bool:  # a log and a head per block, 3 logs in one
            return len(relay.held) == 2 * 10 + 2

        await wait_until(all_held, what="the node's messages")

        await pool.execute(SLOW_STORAGE)
        blocker = await pool.acquire()
        stall = blocker.transaction()
        await stall.start()
        await blocker.execute(store_sql.WRITER_LOCK)
        try:
            await relay.send_held(2)  # block 1: the listener stores it... and stalls

            async def saw_head() -> bool:
                return listener.state.head == start + 1

            await wait_until(saw_head, what="the first head")
            await asyncio.sleep(0.2)
            await relay.send_held(11)  # blocks 2-6 fill the queue; 7's first log is dropped
            await asyncio.sleep(0.2)
        finally:
            await stall.rollback()
            await pool.release(blocker)

        async def storing_again() -> bool:
            return (await checkpoint(pool) or 0) >= start + 1

        await wait_until(storing_again, what="storage to come back")
        # The rest arrives while the queue is being worked off.
        await relay.send_held(interval=0.1)
        await pool.execute("DROP TRIGGER test_slow_store ON orderflow_sync_checkpoints")
        head = await anvil.head()

        async def complete() -> bool:
            return (
                await stored_trades(pool) == await canonical_fills(anvil)
                and (await checkpoint(pool) or 0) >= head - 1
            )

        await wait_until(complete, what="every fill of the flood")
        assert not task.done()
    stored = await stored_trades(pool)
    assert len(stored) == 12
    assert sum(1 for row in stored if row[2] == crowded) == 3
    assert listener.state.reconnects >= 1  # the overflow ended that session
    total = await pool.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats")
    assert total == 12


async def test_a_late_log_buffered_when_the_connection_drops_is_read_again(
    anvil: Anvil, relay: WsRelay, pool: asyncpg.Pool
) -> None:
    """A node that sends a block's head before its logs, then drops the connection while a
    late log waits for its flush: the checkpoint had passed that block; before the fix the
    next session backfilled after it and the fill was lost."""
    settings = make_settings(relay.ws_url, LIVE_FLUSH_SECS=30)
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        relay.hold(logs_only=True)
        late = await anvil.emit(order_filled_v2(order_hash=1))  # block 1: head now, log later
        await anvil.mine(2)  # heads 2 and 3: the checkpoint passes block 1

        async def passed() -> bool:
            return (await checkpoint(pool) or 0) >= 2

        await wait_until(passed, what="the checkpoint past block 1")
        await relay.send_held()  # the late log: buffered, its flush 30 s away
        await asyncio.sleep(0.3)
        sessions = listener.state.sessions
        await relay.cut()

        async def reconnected() -> bool:
            return listener.state.sessions > sessions and listener.state.streaming

        await wait_until(reconnected, what="a new session")
        await wait_until(
            lambda: _stored(pool, late), what="the late log, read again by the backfill"
        )
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def _stored(pool: asyncpg.Pool, tx_hash: str) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM orderflow_trades WHERE tx_hash = $1", tx_hash)
    )
