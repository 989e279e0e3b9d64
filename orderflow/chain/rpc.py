"""A small JSON-RPC client for the listener: WebSocket (with subscriptions) and HTTP.

Why not web3.py's providers: the listener needs exactly five methods, request ids it controls,
one ordered stream of subscription notifications behind a bounded queue, and every failure
classified into what the caller should do next (each provider's wording:
:mod:`orderflow.chain.provider_errors`):

* :class:`RetryableRpcError` — timeouts, dropped connections, 5xx, rate limits: back off, retry;
* :class:`RangeTooLargeError` — the node refused an eth_getLogs range (-32005, "query returned
  more than", "response size exceeded", block-range limits, or a timed-out eth_getLogs): shrink;
* :class:`FatalRpcError` — wrong chain id, bad credentials, unsupported method: stop and say why.

Replies are parsed with :func:`~orderflow.chain.storable.loads_tolerant` (huge integers, deep
nesting); a subscription message that is not JSON at all still reaches the decoder, as a
dead letter.

RPC URLs usually carry an API key in their path or query. Nothing here logs or raises with the
raw URL: :func:`redact_url` keeps only scheme, host and port.

Modules: :mod:`orderflow.chain.rpc_http` (the :class:`Transport` protocol, HTTP, reply
unwrapping, :func:`redact_url`), :mod:`orderflow.chain.rpc_ws` (WebSocket and subscriptions)
and this one (:class:`EthClient`, :class:`Header`), which also re-exports the transports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orderflow.chain.bloom import parse_bloom
from orderflow.chain.fields import MAX_BLOCK_NUMBER, FieldError, bounded, hash32, quantity
from orderflow.chain.provider_errors import classify, timeout_error
from orderflow.chain.rpc_http import HttpTransport, Transport, redact_url
from orderflow.chain.rpc_ws import Notification, WsTransport
from orderflow.errors import FatalRpcError, RetryableRpcError

__all__ = [
    "EthClient",
    "Header",
    "HttpTransport",
    "Notification",
    "Transport",
    "WsTransport",
    "classify",
    "redact_url",
    "timeout_error",
]


@dataclass(frozen=True, slots=True)
class Header:
    """The parts of a block header the listener uses."""

    number: int
    hash: str
    parent_hash: str
    timestamp: datetime
    # ``logsBloom`` as an integer (bloom.py); None when the node left it out or it is
    # malformed, and for headers loaded from the database (only the node's are checked).
    logs_bloom: int | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_rpc(cls, raw: Any) -> Header:
        """A header from the node (a block, a ``newHeads`` notification); raises FieldError
        naming the field when one is missing or not what a mined block holds: a number the
        ledger's BIGINT takes, 32-byte hashes, a time a datetime holds. Until 4 Dec 2026 any
        value was taken (``str(None)`` as a hash, a number past 2**63, a time past time_t):
        the database then refused the range's headers, and the listener stopped."""
        if not isinstance(raw, dict):
            raise FieldError(f"block header is not an object ({type(raw).__name__})")
        seconds = quantity(raw.get("timestamp"), "timestamp")
        try:
            timestamp = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise FieldError(f"timestamp {seconds:#x} is not a valid time") from None
        return cls(
            number=bounded(raw.get("number"), "number", MAX_BLOCK_NUMBER),
            hash=hash32(raw.get("hash"), "hash"),
            parent_hash=hash32(raw.get("parentHash"), "parentHash"),
            timestamp=timestamp,
            logs_bloom=parse_bloom(raw.get("logsBloom")),
        )


class EthClient:
    """The handful of typed eth_* calls the listener makes, over any :class:`Transport`."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def endpoint(self) -> str:
        return self.transport.endpoint

    def _quantity(self, method: str, value: Any) -> int:
        try:
            return quantity(value, "result")
        except FieldError as exc:
            raise RetryableRpcError(
                f"{method} on {self.endpoint}: malformed reply ({exc})"
            ) from None

    def _header(self, method: str, raw: Any, asked: int | str) -> Header | None:
        """The node's block ``asked`` for (a number or a hash), or None when it has none. A
        header that does not parse, or of another block than the one asked for, is a
        malformed reply: retried, never stored."""
        if raw is None:
            return None
        try:
            header = Header.from_rpc(raw)
        except FieldError as exc:
            raise RetryableRpcError(
                f"{method} on {self.endpoint}: malformed block header ({str(exc)[:200]})"
            ) from None
        got = header.number if isinstance(asked, int) else header.hash
        if got != (asked if isinstance(asked, int) else asked.lower()):
            raise RetryableRpcError(
                f"{method} on {self.endpoint}: asked for block {asked}, the node answered "
                f"block {header.number} ({header.hash})"
            )
        return header

    async def chain_id(self) -> int:
        return self._quantity("eth_chainId", await self.transport.request("eth_chainId", []))

    async def check_chain_id(self, expected: int) -> None:
        actual = await self.chain_id()
        if actual != expected:
            raise FatalRpcError(
                f"the node at {self.endpoint} serves chain id {actual}, but CHAIN_ID is "
                f"{expected}: point POLYGON_RPC_URL at a Polygon node or fix CHAIN_ID"
            )

    async def block_number(self) -> int:
        return self._quantity(
            "eth_blockNumber", await self.transport.request("eth_blockNumber", [])
        )

    async def get_logs(
        self, from_block: int, to_block: int, log_filter: dict[str, Any]
    ) -> list[dict[str, Any]]:
        params = {**log_filter, "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        result = await self.transport.request("eth_getLogs", [params])
        if not isinstance(result, list):
            raise RetryableRpcError(f"eth_getLogs on {self.endpoint}: reply is not a list")
        # An entry that is not an object is kept (as a dead letter, by the decoder).
        return [r if isinstance(r, dict) else {"value": r} for r in result]

    async def get_logs_of_block(
        self, block_hash: str, log_filter: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """eth_getLogs of one block named by its hash (EIP-234): a node that does not have
        that block answers an error ("unknown block"), not an empty list."""
        params = {**log_filter, "blockHash": block_hash}
        result = await self.transport.request("eth_getLogs", [params])
        if not isinstance(result, list):
            raise RetryableRpcError(f"eth_getLogs on {self.endpoint}: reply is not a list")
        return [r if isinstance(r, dict) else {"value": r} for r in result]

    async def header_by_number(self, number: int) -> Header | None:
        raw = await self.transport.request("eth_getBlockByNumber", [hex(number), False])
        return self._header("eth_getBlockByNumber", raw, number)

    async def header_by_hash(self, block_hash: str) -> Header | None:
        raw = await self.transport.request("eth_getBlockByHash", [block_hash, False])
        return self._header("eth_getBlockByHash", raw, block_hash)
