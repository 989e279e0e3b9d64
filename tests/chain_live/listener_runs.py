"""Running a Listener in tests and reading back what it stored: its settings, a task that
must end on a stop, the stored fills against the node's canonical ones, the checkpoint, and a
pool through a cuttable proxy (tests/chain_live/test_*.py, tests/history, tests/telemetry)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg

from orderflow import db
from orderflow.chain.backfill import STREAM
from orderflow.chain.checkpoints import get_checkpoint
from orderflow.chain.listener import Listener
from orderflow.chain.settings import ListenerSettings
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import TcpProxy
from tests.chain_live.logs import order_filled_v2, wait_until


def make_settings(ws_url: str, **overrides: Any) -> ListenerSettings:
    values: dict[str, Any] = {
        "POLYGON_RPC_URL": ws_url,
        "CONFIRMATIONS": 0,
        "START_BLOCK": 0,
        "RECONNECT_INITIAL_SECS": 0.05,
        "RECONNECT_MAX_SECS": 0.5,
        "SILENCE_TIMEOUT_SECS": 30,
        "LIVE_FLUSH_SECS": 0.05,
        "RPC_TIMEOUT_SECS": 10,
        **overrides,
    }
    return ListenerSettings(**values)


STOP_BOUND_SECS = 60.0
"""How long a stopped listener may take to end before the test fails instead of hanging."""


@contextlib.asynccontextmanager
async def running(listener: Listener) -> AsyncIterator[asyncio.Task[None]]:
    """Run the listener for the block; on leaving, stop it and fail (never hang) if it ignores
    the stop, as it did when a stop landing with a node's reply was lost (test_stop.py)."""
    task = asyncio.create_task(listener.run())
    try:
        yield task
    finally:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_BOUND_SECS)
        if not done:
            task.cancel()  # a second try, so that it does not run on into the next test
            await asyncio.wait({task}, timeout=STOP_BOUND_SECS)
            raise AssertionError(f"the listener ignored its stop for {STOP_BOUND_SECS:g} s")
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error


async def stored_trades(pool: asyncpg.Pool) -> list[tuple[str, int, int, str]]:
    rows = await pool.fetch(
        "SELECT tx_hash, log_index, block_number, block_hash FROM orderflow_trades"
        " ORDER BY block_number, log_index"
    )
    return [(r["tx_hash"], r["log_index"], r["block_number"], r["block_hash"]) for r in rows]


async def canonical_fills(anvil: Anvil) -> list[tuple[str, int, int, str]]:
    """What the node holds now, in the same shape (only well-formed OrderFilled logs)."""
    logs = await anvil.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "latest"})
    return [
        (g["transactionHash"], int(g["logIndex"], 16), int(g["blockNumber"], 16), g["blockHash"])
        for g in logs
        if len(g["data"]) == 2 + 7 * 64
    ]


async def checkpoint(pool: asyncpg.Pool) -> int | None:
    async with pool.acquire() as conn:
        cp = await get_checkpoint(conn, 137, STREAM)
    return cp.block_number if cp else None


def streaming(listener: Listener) -> Any:
    async def check() -> bool:
        return listener.state.streaming

    return check


def count_is(pool: asyncpg.Pool, n: int) -> Any:
    async def check() -> bool:
        return len(await stored_trades(pool)) == n

    return check


async def listen_until_stored(pool: asyncpg.Pool, anvil: Anvil, order_hash: int) -> None:
    """A listener runs until the fill ``order_hash`` it sees emitted is stored, then stops."""
    async with running(Listener(pool, make_settings(anvil.ws_url))):
        tx = await anvil.emit(order_filled_v2(order_hash=order_hash))

        async def stored() -> bool:
            return tx in {t for t, *_ in await stored_trades(pool)}

        await wait_until(stored, what=f"fill {order_hash} stored")


@contextlib.asynccontextmanager
async def proxied_pool(
    dsn: str, proxy_class: type[TcpProxy] = TcpProxy
) -> AsyncIterator[tuple[asyncpg.Pool, Any]]:
    """A pool whose connections go through a cuttable proxy to the test database."""
    parts = urlsplit(dsn)
    socket_dir = parse_qs(parts.query).get("host", [""])[0]
    if socket_dir.startswith("/"):
        path = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}"

        async def upstream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_unix_connection(path)

        proxy = proxy_class(upstream)
    else:
        host, port = parts.hostname or "127.0.0.1", parts.port or 5432

        async def tcp() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await asyncio.open_connection(host, port)

        proxy = proxy_class(tcp)
    await proxy.start()
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    via = f"postgresql://{user}{password}@127.0.0.1:{proxy.port}{parts.path}"
    p = await db.create_pool(via, min_size=1, max_size=3)
    try:
        yield p, proxy
    finally:
        # Not close(): it waits for the pool's floor-restoring task, which may be retrying
        # against the refused proxy; nothing here needs a graceful goodbye.
        p.terminate()
        await proxy.stop()
