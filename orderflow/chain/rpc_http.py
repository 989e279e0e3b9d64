"""JSON-RPC over HTTP(S), and what both transports share.

:class:`Transport` is the one-request protocol :class:`~orderflow.chain.rpc.EthClient` talks
to (both transports and the tests' fakes implement it); :func:`unwrap_reply` turns a JSON-RPC
reply into its result or a classified :class:`~orderflow.errors.RpcError`
(:mod:`orderflow.chain.provider_errors`); :func:`redact_url` keeps only scheme, host and port
of an RPC URL, which usually carries an API key. The WebSocket transport is
:mod:`orderflow.chain.rpc_ws`.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

import httpx

from orderflow.chain.provider_errors import classify, timeout_error
from orderflow.chain.storable import loads_tolerant
from orderflow.config import redact_url
from orderflow.errors import RetryableRpcError

__all__ = ["HttpTransport", "Transport", "redact_url", "unwrap_reply"]


class Transport(Protocol):
    """One JSON-RPC request/response; both transports and the tests' fakes implement it."""

    endpoint: str

    async def request(self, method: str, params: list[Any]) -> Any: ...


def unwrap_reply(method: str, endpoint: str, reply: Any) -> Any:
    if not isinstance(reply, dict):
        raise RetryableRpcError(f"{method} on {endpoint}: malformed reply {str(reply)[:200]}")
    error = reply.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("code")
            raise classify(
                method,
                endpoint,
                code if type(code) is int else None,
                str(error.get("message", ""))[:2000],
                error.get("data"),
            )
        raise classify(method, endpoint, None, str(error))
    return reply.get("result")


class HttpTransport:
    """JSON-RPC over HTTP(S) with httpx; one pooled client, ids from a counter."""

    def __init__(self, url: str, *, timeout_secs: float = 30.0) -> None:
        self._url = url
        self.endpoint = redact_url(url)
        self._timeout = timeout_secs
        self._ids = itertools.count(1)
        self._client = httpx.AsyncClient(timeout=timeout_secs)

    async def request(self, method: str, params: list[Any]) -> Any:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        try:
            response = await self._client.post(self._url, json=body)
        except httpx.TimeoutException:
            raise timeout_error(method, self.endpoint, self._timeout) from None
        except httpx.TransportError as exc:
            raise RetryableRpcError(
                f"{method} on {self.endpoint}: {type(exc).__name__}; will retry"
            ) from None
        if response.status_code != 200:
            try:
                return unwrap_reply(method, self.endpoint, loads_tolerant(response.content))
            except (ValueError, RetryableRpcError):
                raise classify(
                    method, self.endpoint, response.status_code, f"HTTP {response.status_code}"
                ) from None
        try:
            reply = loads_tolerant(response.content)
        except ValueError:
            raise RetryableRpcError(f"{method} on {self.endpoint}: reply is not JSON") from None
        return unwrap_reply(method, self.endpoint, reply)

    async def aclose(self) -> None:
        await self._client.aclose()
