"""What tests put in front of anvil: a steered JSON-RPC node, a cuttable TCP proxy, a WebSocket
relay that withholds or holds back notifications.

* ``node_in_front``: a JSON-RPC node over HTTP in front of anvil that a test steers (refuses,
  truncates or reorganises what anvil answers).
* ``TcpProxy``: a TCP proxy in front of anvil; ``cut()`` drops every open connection (a dropped
  WebSocket as the listener sees it), ``refuse`` makes new connections fail.
* ``WsRelay``: a WebSocket relay in front of anvil that can drop ``newHeads`` or hold
  notifications back.

The ``proxy`` and ``relay`` fixtures (``conftest.py``) give a test one in front of its anvil.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from aiohttp import web
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from tests.chain_live.anvil_node import Anvil, free_port

JsonRpc = dict[str, Any]
Forward = Callable[[JsonRpc], Awaitable[JsonRpc]]
Steer = Callable[[JsonRpc, Forward], Awaitable[JsonRpc | web.StreamResponse]]


@contextlib.asynccontextmanager
async def node_in_front(anvil: Anvil, steer: Steer) -> AsyncIterator[str]:
    """A JSON-RPC node over HTTP in front of anvil that a test steers, on a free local port while
    the block runs; its URL.

    ``steer(request, forward)`` answers each request (its JSON body): ``forward(request)`` is
    anvil's reply, which it may change; it returns the reply, or an HTTP response of its own
    (an error status) that never reaches anvil."""
    upstream = httpx.AsyncClient(base_url=anvil.http_url, timeout=30)

    async def forward(request: JsonRpc) -> JsonRpc:
        reply: JsonRpc = (await upstream.post("/", json=request)).json()
        return reply

    async def handle(request: web.Request) -> web.StreamResponse:
        reply = await steer(await request.json(), forward)
        return reply if isinstance(reply, web.StreamResponse) else web.json_response(reply)

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}/"
    finally:
        await runner.cleanup()
        await upstream.aclose()


Upstream = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``cut()`` kills live connections.

    The target is a TCP port or any opener (e.g. PostgreSQL's unix socket).
    """

    def __init__(self, target: int | Upstream) -> None:
        if isinstance(target, int):
            port = target

            async def upstream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
                return await asyncio.open_connection("127.0.0.1", port)

            self._upstream: Upstream = upstream
        else:
            self._upstream = target
        self.port = 0
        self.refuse = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.refuse:
            writer.close()
            return
        try:
            up_reader, up_writer = await self._upstream()
        except OSError:
            writer.close()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        for task in (self._pipe(reader, up_writer), self._pipe(up_reader, writer)):
            t = asyncio.create_task(task)
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    def cut(self) -> None:
        """Drop every open connection abruptly (both directions)."""
        for writer in self._writers:
            transport = writer.transport
            transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()


def _chain_order(message: str | bytes) -> tuple[int, int, int]:
    result = json.loads(message)["params"]["result"]
    if "parentHash" in result:
        return int(result["number"], 16), 1, 0
    return int(result["blockNumber"], 16), 0, int(result["logIndex"], 16)


class WsRelay:
    """A WebSocket relay in front of anvil that can withhold ``newHeads`` notifications.

    Providers skip heads (under load, around their own reorgs) and some never send
    ``removed: true``; anvil does neither on its own. ``drop_heads`` makes the relay swallow
    every head notification while it is true (logs and replies pass untouched).
    ``hold()`` keeps every later notification back until ``send_held(n)`` passes on the first
    n of them (a node whose messages come in bursts, timed by the test). ``withhold`` drops
    every log notification it says True of (``withheld`` lists them): a node sending some of
    a block's logs and not others.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop_heads = False
        self.dropped: list[int] = []
        self.withhold: Callable[[dict[str, Any]], bool] | None = None
        self.withheld: list[dict[str, Any]] = []
        self.port = 0
        self._server: Any = None
        self._holding = False
        self._logs_only = False
        self.held: list[str | bytes] = []
        self._clients: set[ServerConnection] = set()

    def hold(self, *, logs_only: bool = False) -> None:
        """Hold notifications back from now on (only logs: heads then arrive first)."""
        self._holding = True
        self._logs_only = logs_only

    def release(self) -> None:
        """Stop holding notifications back (those held wait for ``send_held``)."""
        self._holding = False

    async def cut(self) -> None:
        """Close every client connection (the listener sees its WebSocket drop)."""
        for client in list(self._clients):
            await client.close()

    async def send_held(self, count: int | None = None, *, interval: float = 0.0) -> None:
        """Send the first ``count`` held notifications (all by default), ``interval`` apart.

        Held messages go out in chain order — a block's logs (by log index), then its head —
        whatever order the node produced them in. A client that closes meanwhile (a listener
        ending its session, e.g. on an overflow) misses the rest, as it would from a node.
        """
        self.held.sort(key=_chain_order)
        take = len(self.held) if count is None else count
        batch, self.held = self.held[:take], self.held[take:]
        for message in batch:
            for client in list(self._clients):
                with contextlib.suppress(ConnectionClosed):
                    await client.send(message)
            if interval:
                await asyncio.sleep(interval)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _hold(self, message: str | bytes) -> bool:
        text = message.decode() if isinstance(message, bytes) else message
        if not self._holding or '"eth_subscription"' not in text:
            return False
        if self._logs_only and '"parentHash"' in text:
            return False
        self.held.append(message)
        return True

    def _keep(self, message: str | bytes) -> bool:
        if not self.drop_heads and self.withhold is None:
            return True
        try:
            parsed = json.loads(message)
            result = parsed["params"]["result"]
        except (ValueError, KeyError, TypeError):
            return True
        if parsed.get("method") != "eth_subscription" or not isinstance(result, dict):
            return True
        if self.withhold is not None and "parentHash" not in result and self.withhold(result):
            self.withheld.append(result)
            return False
        if self.drop_heads and "parentHash" in result:
            self.dropped.append(int(result["number"], 16))
            return False
        return True

    async def _handle(self, client: ServerConnection) -> None:
        self._clients.add(client)
        async with ws_connect(self.upstream, max_size=None) as node:

            async def up() -> None:
                async for message in client:
                    await node.send(message)

            async def down() -> None:
                async for message in node:
                    if self._keep(message) and not self._hold(message):
                        await client.send(message)

            tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in tasks:
                t.cancel()
        self._clients.discard(client)

    async def start(self) -> None:
        self._server = await ws_serve(self._handle, "127.0.0.1", 0, max_size=None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
