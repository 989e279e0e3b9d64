"""A JSON-RPC WebSocket stand-in in front of anvil that can inject hostile logs.

Every message is forwarded both ways unchanged, except:

* after each real ``logs`` notification, ``mutate(raw_log)`` may return extra notification
  payloads as JSON *text* (NaN, lone surrogates … only exist as text), sent right after it;
* ``eth_getLogs`` replies get the same extra logs appended (text spliced into the reply);
* ``getlogs_error`` answers eth_getLogs with a scripted error object instead (provider
  wordings), ``getlogs_hang`` makes the next ``hang_calls`` eth_getLogs hang that long;
* after each real ``newHeads`` notification, ``mutate_head(raw_head)`` may return extra
  notification payloads (JSON text) for that subscription, sent right after it;
* ``rewrite_reply(method, params, reply)`` may replace the node's reply to a request (a dict, sent
  instead; an empty dict: no reply at all), e.g. an ``eth_subscribe`` answered with a result
  that is not an id, or never answered;
* ``before_request(method, params)`` is awaited before a request goes on to anvil (the test
  mines a block at that moment, say);
* ``close_after_injecting``: the next this many times ``mutate`` adds notifications to the
  subscription, the connection is closed right after them (a node that sends something, then
  drops).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from aiohttp import WSMsgType, web

from tests.chain_live.anvil_node import Anvil, free_port

Mutator = Callable[[dict[str, Any]], list[str]]


@dataclass
class StandIn:
    url: str = ""
    mutate: Mutator | None = None
    getlogs_error: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    getlogs_hang: float = 0.0  # seconds each of the next ``hang_calls`` eth_getLogs hangs
    hang_calls: int = 0
    getlogs_calls: list[tuple[int, int]] = field(default_factory=list)
    injected: int = 0
    mutate_head: Mutator | None = None
    rewrite_reply: Callable[[str, list[Any], dict[str, Any]], dict[str, Any] | None] | None = None
    before_request: Callable[[str, list[Any]], Awaitable[None]] | None = None
    close_after_injecting: int = 0


def _notification(sub: str, result_text: str) -> str:
    return (
        '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"'
        + sub
        + '","result":'
        + result_text
        + "}}"
    )


@pytest.fixture
async def standin(anvil: Anvil) -> AsyncIterator[StandIn]:
    state = StandIn()

    async def handle(request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=0)
        await client.prepare(request)
        pending: dict[Any, str] = {}  # request id -> method
        params_of: dict[Any, list[Any]] = {}  # request id -> params
        logs_subs: set[str] = set()
        heads_subs: set[str] = set()
        getlogs_ids: set[Any] = set()
        async with websockets.connect(anvil.ws_url, max_size=None) as upstream:

            async def down() -> None:
                async for text in upstream:
                    message = json.loads(text)
                    method = pending.pop(message.get("id"), None) if "id" in message else None
                    if method == "eth_subscribe:logs" and isinstance(message.get("result"), str):
                        logs_subs.add(message["result"])
                    if method == "eth_subscribe:newHeads" and isinstance(
                        message.get("result"), str
                    ):
                        heads_subs.add(message["result"])
                    if method is not None and state.rewrite_reply is not None:
                        asked = params_of.pop(message.get("id"), [])
                        rewritten = state.rewrite_reply(method.split(":")[0], asked, message)
                        if rewritten == {}:
                            continue  # never answered
                        if rewritten is not None:
                            message, text = rewritten, json.dumps(rewritten)
                    if message.get("id") in getlogs_ids and isinstance(message.get("result"), list):
                        getlogs_ids.discard(message["id"])
                        extra = []
                        for raw in message["result"]:
                            extra += state.mutate(raw) if state.mutate else []
                        state.injected += len(extra)
                        if extra:
                            head = str(text).rstrip()
                            at = head.rindex("]")
                            joiner = "," if message["result"] else ""
                            text = head[:at] + joiner + ",".join(extra) + head[at:]
                    await client.send_str(str(text))
                    params = message.get("params") or {}
                    sub = params.get("subscription")
                    if message.get("method") == "eth_subscription" and sub in logs_subs:
                        extras = state.mutate(params["result"]) if state.mutate else []
                        for extra_text in extras:
                            state.injected += 1
                            await client.send_str(_notification(sub, extra_text))
                        if extras and state.close_after_injecting > 0:
                            state.close_after_injecting -= 1
                            await client.close()
                            return
                    if message.get("method") == "eth_subscription" and sub in heads_subs:
                        heads = state.mutate_head(params["result"]) if state.mutate_head else []
                        for extra_text in heads:
                            state.injected += 1
                            await client.send_str(_notification(sub, extra_text))

            pump = asyncio.create_task(down())
            try:
                async for msg in client:
                    if msg.type != WSMsgType.TEXT:
                        break
                    body = json.loads(msg.data)
                    method = body.get("method")
                    if method == "eth_subscribe":
                        pending[body["id"]] = f"eth_subscribe:{body['params'][0]}"
                    elif isinstance(method, str):
                        pending[body["id"]] = method
                    if isinstance(method, str) and state.rewrite_reply is not None:
                        params_of[body["id"]] = body.get("params") or []
                    if state.before_request is not None and isinstance(method, str):
                        await state.before_request(method, body.get("params") or [])
                    if method == "eth_getLogs":
                        p = body["params"][0]
                        if "blockHash" not in p:  # a block by its hash: not a range
                            state.getlogs_calls.append(
                                (int(p["fromBlock"], 16), int(p["toBlock"], 16))
                            )
                        if state.hang_calls > 0:
                            state.hang_calls -= 1
                            await asyncio.sleep(state.getlogs_hang)
                        error = state.getlogs_error(p) if state.getlogs_error else None
                        if error is not None:
                            reply = {"jsonrpc": "2.0", "id": body["id"], "error": error}
                            await client.send_str(json.dumps(reply))
                            continue
                        getlogs_ids.add(body["id"])
                    await upstream.send(msg.data)
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pump
        return client

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    state.url = f"ws://127.0.0.1:{port}/"
    try:
        yield state
    finally:
        await runner.cleanup()
