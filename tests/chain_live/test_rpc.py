"""JSON-RPC client: error classification, URL redaction, both transports against real servers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from orderflow.chain.provider_errors import classify, timeout_error
from orderflow.chain.rpc import EthClient
from orderflow.chain.rpc_http import HttpTransport, redact_url
from orderflow.chain.rpc_ws import WsTransport
from orderflow.errors import FatalRpcError, RangeTooLargeError, RetryableRpcError
from tests.chain_live.anvil_node import Anvil, free_port
from tests.chain_live.in_front import TcpProxy
from tests.chain_live.logs import order_filled_v2

SECRET = "s3cr3t-api-key"


def test_redact_url_hides_keys_in_path_query_and_userinfo() -> None:
    assert redact_url(f"wss://polygon.example.com/v2/{SECRET}") == "wss://polygon.example.com/…"
    assert redact_url(f"https://rpc.example/?apikey={SECRET}") == "https://rpc.example/…"
    assert redact_url(f"ws://user:{SECRET}@node:8546") == "ws://node:8546/…"
    assert redact_url("ws://127.0.0.1:8545") == "ws://127.0.0.1:8545"


@pytest.mark.parametrize(
    ("code", "message", "method", "expected"),
    [
        (-32005, "query returned more than 10000 results", "eth_getLogs", RangeTooLargeError),
        (-32005, "limit exceeded", "eth_getLogs", RangeTooLargeError),
        (-32602, "query returned more than 10000 results", "eth_getLogs", RangeTooLargeError),
        (-32000, "Log response size exceeded. Maximum 150MB", "eth_getLogs", RangeTooLargeError),
        (-32600, "block range is too wide", "eth_getLogs", RangeTooLargeError),
        (-32000, "exceed maximum block range: 2000", "eth_getLogs", RangeTooLargeError),
        (413, "HTTP 413", "eth_getLogs", RangeTooLargeError),
        (429, "HTTP 429", "eth_getLogs", RetryableRpcError),
        (
            -32005,
            "daily request count exceeded, request rate limited",
            "eth_call",
            RetryableRpcError,
        ),
        (-32000, "header not found", "eth_getBlockByNumber", RetryableRpcError),
        (-32603, "internal error", "eth_blockNumber", RetryableRpcError),
        (502, "HTTP 502", "eth_blockNumber", RetryableRpcError),
        (401, "HTTP 401", "eth_chainId", FatalRpcError),
        (-32000, "Must be authenticated!", "eth_chainId", FatalRpcError),
        (
            -32601,
            "the method eth_subscribe does not exist/is not available",
            "eth_subscribe",
            FatalRpcError,
        ),
        # Not a configuration problem (e.g. a hostile block hash asked about): retried.
        (-32602, "invalid argument 0", "eth_getBlockByHash", RetryableRpcError),
    ],
)
def test_classification(code: int, message: str, method: str, expected: type) -> None:
    error = classify(method, "wss://node.example/…", code, message)
    assert isinstance(error, expected)
    assert method in str(error)


def test_timeouts_shrink_getlogs_and_retry_the_rest() -> None:
    assert isinstance(timeout_error("eth_getLogs", "x", 5), RangeTooLargeError)
    assert isinstance(timeout_error("eth_blockNumber", "x", 5), RetryableRpcError)


@pytest.fixture
async def stub() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A JSON-RPC HTTP server answering from a script: (url, list of replies to give in order)."""
    replies: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        reply = replies.pop(0)
        if "status" in reply:
            return web.Response(status=reply["status"], text="nope")
        if reply.get("sleep"):
            await asyncio.sleep(reply["sleep"])
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], **reply})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/v2/{SECRET}", replies
    finally:
        await runner.cleanup()


async def test_http_errors_are_classified_without_leaking_the_key(
    stub: tuple[str, list[dict[str, Any]]],
) -> None:
    url, replies = stub
    transport = HttpTransport(url, timeout_secs=0.5)
    client = EthClient(transport)
    replies += [
        {"error": {"code": -32005, "message": "query returned more than 10000 results"}},
        {"status": 401},
        {"status": 503},
        {"sleep": 2, "result": []},
        {"result": "0x10"},
    ]
    errors: list[Exception] = []
    for expected in (RangeTooLargeError, FatalRpcError, RetryableRpcError, RangeTooLargeError):
        with pytest.raises(expected) as info:
            await client.get_logs(1, 2, {"address": []})
        errors.append(info.value)
    assert await client.block_number() == 16
    for error in errors:
        assert SECRET not in str(error)
        assert "127.0.0.1" in str(error)
    await transport.aclose()


async def test_wrong_chain_id_is_fatal(anvil: Anvil) -> None:
    async with WsTransport(anvil.ws_url) as ws:
        client = EthClient(ws)
        await client.check_chain_id(137)
        with pytest.raises(FatalRpcError, match="chain id 137, but CHAIN_ID is 1"):
            await client.check_chain_id(1)


async def test_connect_refused_is_retryable() -> None:
    ws = WsTransport(f"ws://127.0.0.1:{free_port()}/{SECRET}", timeout_secs=2)
    with pytest.raises(RetryableRpcError) as info:
        await ws.connect()
    assert SECRET not in str(info.value)


async def test_ws_subscription_and_drop(anvil: Anvil, proxy: TcpProxy) -> None:
    """Heads arrive in order on the queue; a cut connection fails pending and future calls."""
    async with WsTransport(proxy.ws_url, timeout_secs=5) as ws:
        sub = await ws.subscribe("newHeads")
        await anvil.mine(2)
        numbers = []
        for _ in range(2):
            note = await ws.next_notification(10)
            assert note is not None and note.subscription == sub
            numbers.append(int(note.result["number"], 16))
        assert numbers == [1, 2]
        assert await ws.next_notification(0.05) is None
        proxy.cut()
        with pytest.raises(RetryableRpcError):
            await ws.next_notification(10)
        with pytest.raises(RetryableRpcError):
            await EthClient(ws).block_number()


async def test_ws_queue_overflow_fails_the_connection(anvil: Anvil) -> None:
    async with WsTransport(anvil.ws_url, timeout_secs=5, queue_size=2) as ws:
        await ws.subscribe("newHeads")
        await anvil.mine(5)
        await asyncio.sleep(0.5)
        await ws.next_notification(1)
        await ws.next_notification(1)
        with pytest.raises(RetryableRpcError, match="overflowed"):
            await ws.next_notification(1)


async def test_ws_reply_over_the_size_limit_shrinks_getlogs(anvil: Anvil) -> None:
    for i in range(5):
        await anvil.emit(order_filled_v2(order_hash=i))
    async with WsTransport(anvil.ws_url, timeout_secs=10, max_message_bytes=2_000) as ws:
        client = EthClient(ws)
        with pytest.raises(RangeTooLargeError, match="message limit"):
            await client.get_logs(0, 10, {})
        with pytest.raises(RetryableRpcError):
            await client.block_number()


async def test_malformed_replies_are_retried_never_fatal_nor_a_crash(
    stub: tuple[str, list[dict[str, Any]]],
) -> None:
    """A node answering garbage where a quantity or a header belongs: a retryable error (the
    listener reconnects with backoff), never a ValueError that would stop it."""
    url, replies = stub
    transport = HttpTransport(url, timeout_secs=2)
    client = EthClient(transport)
    replies += [
        {"result": "0xzz"},
        {"result": None},
        {"result": {"number": "0x1", "hash": "0x00", "parentHash": "0x00", "timestamp": "nope"}},
        {"result": {"number": "0x1"}},
        {"result": [{"address": "0x1"}, "not an object", 7]},
    ]
    with pytest.raises(RetryableRpcError, match="malformed reply"):
        await client.chain_id()
    with pytest.raises(RetryableRpcError, match="malformed reply"):
        await client.block_number()
    for _ in range(2):
        with pytest.raises(RetryableRpcError, match="malformed block header"):
            await client.header_by_number(1)
    logs = await client.get_logs(1, 2, {"address": []})
    assert logs == [{"address": "0x1"}, {"value": "not an object"}, {"value": 7}]
    await transport.aclose()
