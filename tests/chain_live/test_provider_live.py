"""Provider failures against the running listener: stated range limits, hangs, a database
that is starting up or shutting down (57P03 / 57P01). The listener never stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

import asyncpg
import pytest

from orderflow.chain.listener import Listener
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.in_front import TcpProxy
from tests.chain_live.listener_runs import (
    count_is,
    make_settings,
    proxied_pool,
    running,
    streaming,
)
from tests.chain_live.logs import order_filled_v2, wait_until
from tests.chain_live.standin import StandIn

pytestmark = pytest.mark.anvil

LIMIT = 5


def refuse_wide(code: int, wording: str) -> Any:
    def answer(params: dict[str, Any]) -> dict[str, Any] | None:
        span = int(params["toBlock"], 16) - int(params["fromBlock"], 16) + 1
        if span > LIMIT:
            return {"code": code, "message": wording.format(span=span, limit=LIMIT)}
        return None

    return answer


@pytest.mark.parametrize(
    ("code", "wording"),
    [
        (
            -32602,
            "eth_getLogs and eth_newFilter are limited to a {limit} blocks range",
        ),  # QuickNode
        (-32602, "range {span} exceeds limit of {limit}"),  # Infura
        (35, "ranges over {limit} blocks are not supported on freetier"),  # dRPC
    ],
    ids=["QuickNode", "Infura", "dRPC"],
)
async def test_a_stated_block_limit_is_obeyed_at_once(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool, code: int, wording: str
) -> None:
    for i in range(12):
        await anvil.emit(order_filled_v2(order_hash=100 + i))
    standin.getlogs_error = refuse_wide(code, wording)
    settings = make_settings(
        standin.url, GETLOGS_INITIAL_BLOCKS=64, GETLOGS_MAX_BLOCKS=64, GETLOGS_MIN_BLOCKS=1
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(streaming(listener), what="streaming")
        await wait_until(count_is(pool, 12), what="the backfilled fills")
        assert not task.done()
    spans = [b - a + 1 for a, b in standin.getlogs_calls]
    refused = [i for i, s in enumerate(spans) if s > LIMIT]
    # the backfill's and the condition sync's first requests may both be in flight before the
    # first refusal is answered; every later request of either obeys the stated limit at once
    assert refused and max(refused) < 2, spans
    assert max(s for s in spans if s <= LIMIT) == LIMIT
    assert (listener.ranges.size, listener.ranges.max_size) == (LIMIT, LIMIT)
    assert listener.state.reconnects == 0


async def test_a_hanging_provider_is_waited_out_never_fatal(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """eth_getLogs hangs past RPC_TIMEOUT_SECS many times in a row: the range halves down to
    the minimum, then the listener backs off and retries (reconnecting) until the provider
    answers again, and stores everything."""
    for i in range(4):
        await anvil.emit(order_filled_v2(order_hash=200 + i))
    standin.getlogs_hang, standin.hang_calls = 0.6, 8
    settings = make_settings(
        standin.url,
        RPC_TIMEOUT_SECS=0.3,
        GETLOGS_INITIAL_BLOCKS=4,
        GETLOGS_MAX_BLOCKS=4,
        GETLOGS_MIN_BLOCKS=1,
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(count_is(pool, 4), what="the fills once the provider answers", timeout=60)
        await wait_until(streaming(listener), what="streaming")
        assert not task.done()
        await anvil.emit(order_filled_v2(order_hash=299))
        await wait_until(count_is(pool, 5), what="a live fill after the hang")
    assert listener.state.reconnects >= 1  # it reached the minimum and backed off
    assert standin.hang_calls == 0


# --- PostgreSQL failover: 57P01 on live connections, 57P03 on new ones --------------------------


def _error_response(code: str, message: str) -> bytes:
    fields = b"".join(
        tag + value.encode() + b"\0"
        for tag, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message))
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!i", len(body) + 4) + body


class StartingUpProxy(TcpProxy):
    """A TcpProxy that, while ``starting_up``, answers every new connection the way a server in
    recovery does: FATAL 57P03 "the database system is starting up"."""

    starting_up = False
    answered = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.starting_up:
            await super()._handle(reader, writer)
            return
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            length = struct.unpack("!i", await reader.readexactly(4))[0]
            packet = await reader.readexactly(length - 4)
            if packet[:4] == struct.pack("!i", 80877103):  # SSLRequest: "no SSL", then startup
                writer.write(b"N")
                length = struct.unpack("!i", await reader.readexactly(4))[0]
                await reader.readexactly(length - 4)
            writer.write(_error_response("57P03", "the database system is starting up"))
            await writer.drain()
            self.answered += 1
        writer.close()


async def test_database_failover_57p01_then_57p03_is_retried(
    anvil: Anvil, pool: asyncpg.Pool, dsn: str
) -> None:
    async with proxied_pool(dsn, StartingUpProxy) as (via_proxy, proxy):
        assert isinstance(proxy, StartingUpProxy)
        listener = Listener(via_proxy, make_settings(anvil.ws_url))
        async with running(listener) as task:
            await wait_until(streaming(listener), what="streaming")
            await anvil.emit(order_filled_v2(order_hash=1))
            await wait_until(count_is(pool, 1), what="first fill")
            # Failover: the server terminates our sessions (57P01 admin_shutdown) and, while
            # the standby is promoted, refuses new ones with 57P03.
            proxy.starting_up = True
            await pool.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE pid <> pg_backend_pid() AND datname = current_database()"
            )
            await anvil.emit(order_filled_v2(order_hash=2))

            async def refused_some() -> bool:
                return proxy.answered >= 2

            await wait_until(refused_some, what="reconnects refused with 57P03")
            assert not task.done()
            proxy.starting_up = False
            await anvil.emit(order_filled_v2(order_hash=3))
            await wait_until(count_is(pool, 3), what="fills after the failover")
            assert not task.done()
        assert listener.state.reconnects >= 1


# --- a refusal in a wording the table does not know ---------------------------------------------

UNKNOWN = "too many logs: 10001 > 10000"  # no marker of provider_errors matches it (-32000)


async def test_an_unrecognised_error_on_a_wide_range_halves_it(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool
) -> None:
    """A node refusing every range wider than LIMIT blocks in a wording nobody listed: after a
    few tries the range is halved as after a refusal, and the backfill goes on. Until 6 Dec
    2026 the session ended and the next one asked for the same range, for ever."""
    for i in range(12):
        await anvil.emit(order_filled_v2(order_hash=300 + i))
    standin.getlogs_error = refuse_wide(-32000, UNKNOWN)
    settings = make_settings(
        standin.url, GETLOGS_INITIAL_BLOCKS=16, GETLOGS_MAX_BLOCKS=16, GETLOGS_MIN_BLOCKS=1
    )
    listener = Listener(pool, settings)
    async with running(listener) as task:
        await wait_until(count_is(pool, 12), timeout=15, what="the backfilled fills")
        await wait_until(streaming(listener), what="streaming")
        assert not task.done()
    assert listener.ranges.max_size == 16  # halved, not capped: successes double it again
    assert listener.state.reconnects == 0


async def test_a_block_that_keeps_failing_is_a_clear_error(
    anvil: Anvil, standin: StandIn, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Every eth_getLogs reaching block ``bad`` fails in an unknown wording: the range narrows to
    that one block, the blocks below it are stored, and the session ends naming the block and
    saying it cannot be narrowed; once the node answers, the rest is stored."""
    blocks = [await _fill_block(anvil, 400 + i) for i in range(6)]
    bad = blocks[3]
    failing = True

    def answer(params: dict[str, Any]) -> dict[str, Any] | None:
        if failing and int(params["fromBlock"], 16) <= bad <= int(params["toBlock"], 16):
            return {"code": -32000, "message": UNKNOWN}
        return None

    standin.getlogs_error = answer
    settings = make_settings(
        standin.url, GETLOGS_INITIAL_BLOCKS=16, GETLOGS_MAX_BLOCKS=16, GETLOGS_MIN_BLOCKS=1
    )
    listener = Listener(pool, settings)
    with caplog.at_level(logging.WARNING, logger="orderflow.chain"):
        async with running(listener) as task:
            await wait_until(count_is(pool, 3), timeout=15, what="the fills below the bad block")

            async def said() -> bool:
                return f"eth_getLogs of block {bad} failed" in caplog.text

            await wait_until(said, timeout=15, what="the error naming the block")
            assert "one block cannot be narrowed" in caplog.text
            failing = False
            await wait_until(count_is(pool, 6), timeout=15, what="every fill once it answers")
            assert not task.done()


async def _fill_block(anvil: Anvil, order_hash: int) -> int:
    await anvil.emit(order_filled_v2(order_hash=order_hash))
    return await anvil.head()
