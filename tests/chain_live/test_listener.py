"""The listener against a real anvil node and a real PostgreSQL.

The LogRelay sits at the real V2 exchange / CTF addresses (conftest), so every log the listener
sees has the real address, topic0 and ABI layout. Each test checks the database against what
the node says is canonical (eth_getLogs), which is the definition of "no gap, no duplicate".
"""

from __future__ import annotations

import asyncio
import socket
import time
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.chain import live_resync
from orderflow.chain.backfill import Backfiller
from orderflow.chain.listener import Listener, run_with_health
from orderflow.errors import ConfigError
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import TcpProxy
from tests.chain_live.listener_runs import (
    canonical_fills,
    checkpoint,
    count_is,
    make_settings,
    proxied_pool,
    running,
    stored_trades,
    streaming,
)
from tests.chain_live.logs import malformed_fill, order_filled_v2, wait_until
from tests.reputation.test_incremental_sums import assert_sums_match

pytestmark = pytest.mark.anvil


async def test_live_subscription_stores_a_fill(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        tx = await anvil.emit(order_filled_v2(order_hash=1))
        await wait_until(count_is(pool, 1), what="the live fill")
        row = await pool.fetchrow("SELECT * FROM orderflow_trades")
    assert row["tx_hash"] == tx
    assert row["wallet_address"] == "0x" + "a1" * 20
    assert row["side"] == "BUY"
    assert row["usdc_size"] == Decimal("3.55")
    assert row["block_number"] == await anvil.head()
    header = await anvil.rpc("eth_getBlockByNumber", hex(row["block_number"]), False)
    assert int(row["timestamp"].timestamp()) == int(header["timestamp"], 16)
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_backfill_after_downtime_and_restart_without_gap_or_duplicate(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    # Logs from before the listener ever ran: the first start backfills them.
    for i in range(3):
        await anvil.emit(order_filled_v2(order_hash=100 + i))
    settings = make_settings(anvil.ws_url, GETLOGS_INITIAL_BLOCKS=2, GETLOGS_MAX_BLOCKS=2)
    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(count_is(pool, 3), what="initial backfill")
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=200))
        await wait_until(count_is(pool, 4), what="live fill")
    stopped_at = await checkpoint(pool)
    assert stopped_at is not None

    # Downtime: fills in single blocks and several in one block, then empty blocks.
    await anvil.emit(order_filled_v2(order_hash=300))
    await anvil.emit_block([order_filled_v2(order_hash=301 + i) for i in range(3)])
    await anvil.mine(3)
    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(count_is(pool, 8), what="backfill after downtime")
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=400))
        await wait_until(count_is(pool, 9), what="live fill after restart")
        head = await anvil.head()

        async def caught_up() -> bool:
            return (await checkpoint(pool) or 0) >= head - 1

        await wait_until(caught_up, what="checkpoint")
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert (await checkpoint(pool) or 0) > stopped_at


async def test_a_long_catch_up_is_stored_in_bulk_and_folded(
    anvil: Anvil, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up of LONG_BACKFILL_BLOCKS or more (lowered here) stores in bulk mode: the
    trades' sums are deferred while it runs and folded by its end, before streaming; then live
    fills add to them as usual. The sums and counters equal a fresh aggregation."""
    deferred: list[bool] = []
    run = Backfiller.run

    async def seen(self: Backfiller, *args: Any, **kwargs: Any) -> Any:
        deferred.append(kwargs.get("bulk", False))
        return await run(self, *args, **kwargs)

    monkeypatch.setattr(live_resync, "LONG_BACKFILL_BLOCKS", 4)
    monkeypatch.setattr(Backfiller, "run", seen)
    for i in range(6):
        await anvil.emit(order_filled_v2(order_hash=500 + i, maker=f"0x{i % 2 + 1:040x}"))
    settings = make_settings(anvil.ws_url, GETLOGS_INITIAL_BLOCKS=2, GETLOGS_MAX_BLOCKS=2)
    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(count_is(pool, 6), what="the long catch-up")
        await wait_until(streaming(listener), what="streaming")
        assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_pending") == 0
        await anvil.emit(order_filled_v2(order_hash=600))
        await wait_until(count_is(pool, 7), what="live fill")
    assert deferred[0] is True  # the first catch-up: every block from START_BLOCK
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums_pending") == 0
    assert await assert_sums_match(pool) == 3  # two makers' positions and the live fill's


async def test_same_log_delivered_twice_is_stored_once(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=7))
        await wait_until(count_is(pool, 1), what="the fill")
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    # Replay: back to block 0 as if the checkpoint were lost, and once more live.
    await pool.execute("UPDATE orderflow_sync_checkpoints SET block_number = 0")
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming again")
        await wait_until(lambda: _checkpoint_at_least(pool, 1), what="re-backfill")
        assert not task.done()
    assert await stored_trades(pool) == await canonical_fills(anvil)
    total = await pool.fetchval("SELECT total_trades FROM orderflow_wallet_stats")
    assert total == 1 and len(logs) == 1


async def _checkpoint_at_least(pool: asyncpg.Pool, n: int) -> bool:
    return (await checkpoint(pool) or 0) >= n


async def test_reorg_rolls_back_orphans_and_ingests_the_canonical_chain(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        snapshot = await anvil.rpc("evm_snapshot")
        await anvil.emit(order_filled_v2(order_hash=2))
        await anvil.emit(order_filled_v2(order_hash=3))
        await wait_until(count_is(pool, 3), what="three fills")
        orphaned = await stored_trades(pool)

        # Blocks 2 and 3 vanish; a different history of three blocks replaces them.
        await anvil.rpc("evm_revert", snapshot)
        await anvil.emit(
            order_filled_v2(order_hash=20, side=1, maker_amount=5_000_000, taker_amount=3_550_000)
        )
        await anvil.mine(1)
        await anvil.emit(order_filled_v2(order_hash=40))

        async def canonical() -> bool:
            return await stored_trades(pool) == await canonical_fills(anvil)

        await wait_until(canonical, what="the canonical chain")
    stored = await stored_trades(pool)
    assert len(stored) == 3
    assert orphaned[0] == stored[0]
    assert not set(orphaned[1:]) & set(stored)
    assert listener.state.reorgs >= 1
    sides = [
        r["side"]
        for r in await pool.fetch("SELECT side FROM orderflow_trades ORDER BY block_number")
    ]
    assert sides == ["BUY", "SELL", "BUY"]
    wallet = await pool.fetchrow("SELECT total_trades FROM orderflow_wallet_stats")
    assert wallet["total_trades"] == 3


async def test_anvil_reorg_replaces_a_block(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="two fills")
        # Replace the last block by an empty one (anvil_reorg with no transactions).
        await anvil.rpc("anvil_reorg", 1, [])

        async def canonical() -> bool:
            return await stored_trades(pool) == await canonical_fills(anvil)

        await wait_until(canonical, what="the reorged chain")
    assert len(await stored_trades(pool)) == 1


async def test_reorg_while_stopped_is_repaired_on_restart(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await wait_until(count_is(pool, 1), what="the fill")
    # The block is replaced while the listener is down: its checkpoint hash no longer matches.
    await anvil.rpc("anvil_reorg", 1, [])
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming after restart")
        await wait_until(count_is(pool, 0), what="rollback of the orphaned fill")
    assert listener.state.reorgs == 1


async def test_dropped_websocket_reconnects_without_loss(
    anvil: Anvil, proxy: TcpProxy, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(proxy.ws_url))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await wait_until(count_is(pool, 1), what="first fill")
        proxy.refuse = True
        proxy.cut()
        # Logs emitted while the listener cannot reach the node.
        for i in range(3):
            await anvil.emit(order_filled_v2(order_hash=10 + i))
        await asyncio.sleep(0.3)
        proxy.refuse = False
        await wait_until(count_is(pool, 4), what="fills missed while disconnected")
        await wait_until(streaming(listener), what="streaming again")
        await anvil.emit(order_filled_v2(order_hash=20))
        await wait_until(count_is(pool, 5), what="live fill after reconnect")
    assert listener.state.reconnects >= 1
    assert proxy.connections >= 2
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_silent_subscription_is_treated_as_dead(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url, SILENCE_TIMEOUT_SECS=0.5))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")

        async def reconnected() -> bool:
            return listener.state.reconnects >= 1 and listener.state.streaming

        await wait_until(reconnected, what="a reconnect after silence")
        # Still ingesting after the reconnect.
        await anvil.emit(order_filled_v2(order_hash=5))
        await wait_until(count_is(pool, 1), what="fill after reconnect")


async def test_malformed_logs_go_to_dead_letters(anvil: Anvil, pool: asyncpg.Pool) -> None:
    await anvil.emit(malformed_fill(1))  # before start: through the backfill
    listener = Listener(pool, make_settings(anvil.ws_url))
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(malformed_fill(2))  # live
        await anvil.emit(order_filled_v2(order_hash=3))
        await wait_until(count_is(pool, 1), what="the good fill")

        async def two_dead() -> bool:
            count: int = await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters")
            return count == 2

        await wait_until(two_dead, what="two dead letters")
        assert not task.done()
    rows = await pool.fetch("SELECT tx_hash, reason, raw FROM orderflow_dead_letters")
    assert all("OrderFilled" in r["reason"] for r in rows)
    assert all(r["raw"]["topics"] for r in rows)


async def test_confirmations_delay_storage(anvil: Anvil, pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url, CONFIRMATIONS=2))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=1))
        await anvil.mine(1)
        await asyncio.sleep(0.3)
        assert await stored_trades(pool) == []  # one block deep: not yet
        await anvil.mine(1)
        await wait_until(count_is(pool, 1), what="the fill two blocks deep")


async def test_readiness_checks(pool: asyncpg.Pool) -> None:
    listener = Listener(pool, make_settings("ws://127.0.0.1:1", READY_MAX_HEAD_LAG_BLOCKS=5))
    assert await listener.check_database() == (True, "database reachable")
    ok, detail = await listener.check_head_lag()
    assert not ok and "not synchronised" in detail
    listener.state.head, listener.state.checkpoint = 100, 95
    listener.state.head_seen_at = time.monotonic()
    assert (await listener.check_head_lag())[0]
    listener.state.checkpoint = 94
    ok, detail = await listener.check_head_lag()
    assert not ok and "lag 6 (max 5)" in detail
    listener.state.checkpoint = 100
    listener.state.head_seen_at = time.monotonic() - 3600
    ok, detail = await listener.check_head_lag()
    assert not ok and "no new head" in detail


async def test_backfill_over_http_when_configured(anvil: Anvil, pool: asyncpg.Pool) -> None:
    await anvil.emit(order_filled_v2(order_hash=1))
    settings = make_settings(anvil.ws_url, POLYGON_HTTP_URL=anvil.http_url)
    listener = Listener(pool, settings)
    async with running(listener):
        await wait_until(count_is(pool, 1), what="the backfilled fill")
        await wait_until(streaming(listener), what="streaming")
        await anvil.emit(order_filled_v2(order_hash=2))
        await wait_until(count_is(pool, 2), what="the live fill")
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_lost_database_connection_is_survived(
    anvil: Anvil, pool: asyncpg.Pool, dsn: str
) -> None:
    async with proxied_pool(dsn) as (via_proxy, db_proxy):
        listener = Listener(via_proxy, make_settings(anvil.ws_url))
        async with running(listener) as task:
            await wait_until(streaming(listener), what="streaming")
            await anvil.emit(order_filled_v2(order_hash=1))
            await wait_until(count_is(pool, 1), what="first fill")
            # The database goes away: pooled connections die, new ones are refused.
            db_proxy.refuse = True
            db_proxy.cut()
            await anvil.emit(order_filled_v2(order_hash=2))

            async def failed_over() -> bool:
                return listener.state.reconnects >= 1

            await wait_until(failed_over, what="the session to end on the lost database")
            await anvil.emit(order_filled_v2(order_hash=3))
            db_proxy.refuse = False
            await wait_until(count_is(pool, 3), what="fills after the database came back")
            assert not task.done()
        assert listener.state.reconnects >= 1
    assert await stored_trades(pool) == await canonical_fills(anvil)


async def test_busy_health_port_is_a_config_error(pool: asyncpg.Pool) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))  # noqa: S104 - the health server binds all interfaces
        busy.listen()
        port = busy.getsockname()[1]
        listener = Listener(pool, make_settings("ws://127.0.0.1:1"))
        with pytest.raises(ConfigError, match=f"HEALTH_PORT={port}"):
            await run_with_health(listener, port)


async def test_reorg_of_unconfirmed_blocks_never_reaches_the_database(
    anvil: Anvil, pool: asyncpg.Pool
) -> None:
    listener = Listener(pool, make_settings(anvil.ws_url, CONFIRMATIONS=1))
    async with running(listener):
        await wait_until(streaming(listener), what="streaming")
        snapshot = await anvil.rpc("evm_snapshot")
        await anvil.emit(order_filled_v2(order_hash=1))  # block 1: buffered, unconfirmed

        async def head_one() -> bool:
            return listener.state.head == 1

        await wait_until(head_one, what="head 1")
        await anvil.rpc("evm_revert", snapshot)
        await anvil.emit(order_filled_v2(order_hash=2, side=1))  # another block 1
        await anvil.mine(1)  # confirms it
        await wait_until(count_is(pool, 1), what="the canonical fill")
        assert (await pool.fetchval("SELECT side FROM orderflow_trades")) == "SELL"
    assert await stored_trades(pool) == await canonical_fills(anvil)
    assert listener.state.reorgs == 1
