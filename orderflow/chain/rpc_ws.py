"""JSON-RPC over one WebSocket, with ``eth_subscribe`` notifications behind a bounded queue.

A subscription message that is not JSON at all still reaches the decoder, as a dead letter
(:data:`MAX_UNPARSEABLE` characters of it). Replies are unwrapped and classified as over HTTP
(:func:`~orderflow.chain.rpc_http.unwrap_reply`).

Every wait here is ``async with asyncio.timeout(…)`` around a plain ``await``, never
``asyncio.wait_for``: on Python 3.11, ``wait_for`` returns the result instead of raising
``CancelledError`` when the caller is cancelled in the same loop turn its awaitable completes
(CPython gh-86296, fixed in 3.12). A stop (SIGTERM) that lands as a reply or notification
arrives was then lost, and the listener ran on, reconnecting after each silence, forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from orderflow.chain.provider_errors import classify, timeout_error
from orderflow.chain.rpc_http import redact_url, unwrap_reply
from orderflow.chain.storable import loads_tolerant
from orderflow.errors import RangeTooLargeError, RetryableRpcError, RpcError

__all__ = ["MAX_UNPARSEABLE", "Notification", "WsTransport", "notification_block"]

log = logging.getLogger("orderflow.chain.rpc")  # the name its records have always carried

_MESSAGE_TOO_BIG = 1009  # WebSocket close code: a frame/message over our max_size
_SUBSCRIPTION_ID = re.compile(r'"subscription"\s*:\s*"(0x[0-9a-fA-F]{1,64})"')
MAX_UNPARSEABLE = 100_000  # characters of an unparseable notification kept for its dead letter


def notification_block(result: Any) -> int | None:
    """The block a notification is about (a log's ``blockNumber``, a head's ``number``)."""
    if not isinstance(result, dict):
        return None
    value = result.get("blockNumber", result.get("number"))
    if type(value) is not str or not value.startswith("0x") or len(value) > 18:
        return None
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return number if number < 1 << 63 else None


@dataclass(frozen=True, slots=True)
class Notification:
    """One ``eth_subscription`` message: which subscription, and its payload."""

    subscription: str
    result: Any


class WsTransport:
    """JSON-RPC over one WebSocket, with subscriptions.

    A reader task owns the socket's receive side: replies resolve their request's future,
    notifications go, in arrival order, into one bounded queue (ordering between logs and heads
    matters for reorg handling). When the queue is full the reader does not block — blocking
    would also stall the replies the consumer may be waiting for — it marks the connection
    overflowed; the consumer then gets a RetryableRpcError and resynchronises by backfill.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_secs: float = 30.0,
        queue_size: int = 10_000,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self._url = url
        self.endpoint = redact_url(url)
        self._timeout = timeout_secs
        self._max_message = max_message_bytes
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], str]] = {}
        self._subscriptions: set[str] = set()
        # None in the queue wakes a waiting consumer when the connection fails.
        self._queue: asyncio.Queue[Notification | None] = asyncio.Queue(maxsize=queue_size)
        self._conn: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._failure: RpcError | None = None
        # Overflow bookkeeping: after the first notification that did not fit, every later one
        # is dropped too (the consumer sees a clean prefix) and the lowest block among them is
        # kept, so the listener can read the chain again from there (see live.py).
        self.overflowed = False
        self.dropped = 0
        self.dropped_from_block: int | None = None
        # Notifications naming no subscription of ours (_stray): lost the same way.
        self.strays = 0
        self._unsubscribed: set[str] = set()

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                self._conn = await connect(self._url, max_size=self._max_message, open_timeout=None)
        except TimeoutError:
            raise RetryableRpcError(f"connect to {self.endpoint}: timed out") from None
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            raise classify("connect", self.endpoint, status, f"HTTP {status}") from None
        except (OSError, websockets.WebSocketException) as exc:
            raise RetryableRpcError(
                f"connect to {self.endpoint}: {type(exc).__name__}: {exc}"
            ) from None
        self._reader = asyncio.create_task(self._read(), name="rpc-ws-reader")

    async def close(self) -> None:
        """Stop the reader and close the socket. A cancellation of the caller while waiting
        for the reader propagates (after the socket is closed): only the reader's own end is
        expected here, and ``await reader`` could not tell the two apart."""
        try:
            if self._reader is not None:
                self._reader.cancel()
                await asyncio.wait({self._reader})
                error = None if self._reader.cancelled() else self._reader.exception()
                if error is not None:
                    raise error  # a reader bug, as before
        finally:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
            self._fail(RetryableRpcError(f"connection to {self.endpoint} closed"))

    async def __aenter__(self) -> WsTransport:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _fail(self, error: RpcError) -> None:
        if self._failure is None:
            self._failure = error
            with contextlib.suppress(asyncio.QueueFull):  # full: the consumer is not waiting
                self._queue.put_nowait(None)
        for future, _method in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    async def _read(self) -> None:
        assert self._conn is not None
        try:
            async for raw in self._conn:
                self._dispatch(raw)
        except websockets.ConnectionClosed as exc:
            dropped = RetryableRpcError(f"connection to {self.endpoint} dropped: {exc}")
            if exc.sent is not None and exc.sent.code == _MESSAGE_TOO_BIG:
                # A reply over the message limit (a huge eth_getLogs): the request in flight
                # should ask for less; later calls just see a dropped connection.
                too_big = f"a reply exceeded the {self._max_message} byte WebSocket message limit"
                for future, method in self._pending.values():
                    if not future.done():
                        future.set_exception(
                            RangeTooLargeError(f"{method} on {self.endpoint}: {too_big}")
                            if method == "eth_getLogs"
                            else dropped
                        )
            self._fail(dropped)
            return
        except Exception as exc:  # a reader bug must not leave requests hanging forever
            self._fail(RetryableRpcError(f"reading from {self.endpoint}: {exc!r}"))
            raise
        self._fail(RetryableRpcError(f"connection to {self.endpoint} closed by the node"))

    def _dispatch(self, raw: str | bytes) -> None:
        try:
            message = loads_tolerant(raw)
        except ValueError:
            message = self._unparseable(raw)
            if message is None:
                return
        if isinstance(message, dict) and message.get("method") == "eth_subscription":
            params = message.get("params")
            sub = params.get("subscription") if isinstance(params, dict) else None
            result = params.get("result") if isinstance(params, dict) else None
            if not isinstance(sub, str) or sub not in self._subscriptions:
                if not isinstance(sub, str) or sub not in self._unsubscribed:
                    self._stray(sub, result)  # not a late message of one we dropped
                return
            if self.overflowed or self.strays:
                self._note_dropped(result)
                return
            try:
                self._queue.put_nowait(Notification(sub, result))
            except asyncio.QueueFull:
                self.overflowed = True
                self._note_dropped(result)
                self._fail(
                    RetryableRpcError(
                        f"subscription queue of {self._queue.maxsize} overflowed (storage fell "
                        "behind the node): reconnecting and backfilling"
                    )
                )
            return
        if not isinstance(message, dict) or type(message.get("id")) is not int:
            return  # our request ids are ints; anything else is not a reply to us
        entry = self._pending.pop(message["id"], None)
        if entry is None:
            return
        future, method = entry
        if future.done():
            return
        try:
            result = unwrap_reply(method, self.endpoint, message)
        except RpcError as exc:
            future.set_exception(exc)
            return
        if method == "eth_subscribe" and isinstance(result, str):
            # Registered here, before any later notification is dispatched, so none is lost.
            self._subscriptions.add(result)
        future.set_result(result)

    def _stray(self, sub: Any, result: Any) -> None:
        """A notification naming no subscription this connection confirmed (nor one it dropped):
        the node (or a proxy that re-subscribed on another backend) sends our logs under an id
        we never got. Its payload may be a log of ours, so it is a lost notification, as after
        an overflow: its block is kept (the checkpoint stays below it and is moved back there
        if it had passed it), every later notification is dropped too, and the session ends
        to read the chain again from there. Until 4 Dec 2026 such messages were dropped
        silently while the heads went on moving the checkpoint: every fill sent under that
        id was lost."""
        self.strays += 1
        self._note_dropped(result)
        if self.strays == 1:
            log.warning(
                "notification for a subscription this connection never confirmed",
                extra={"endpoint": self.endpoint, "subscription": str(sub)[:100]},
            )
        self._fail(
            RetryableRpcError(
                f"{self.endpoint} sent a notification for subscription {str(sub)[:100]!r}, "
                "which it never confirmed: reconnecting and reading the chain again"
            )
        )

    def _note_dropped(self, result: Any) -> None:
        self.dropped += 1
        number = notification_block(result)
        if number is not None and (
            self.dropped_from_block is None or number < self.dropped_from_block
        ):
            self.dropped_from_block = number

    def _unparseable(self, raw: str | bytes) -> dict[str, Any] | None:
        """A message that is not JSON at all. If it names one of our subscriptions it becomes
        that subscription's notification with ``{"unparseable": text}`` as payload, so the
        decoder keeps it as a dead letter (a log notification never vanishes silently);
        anything else is logged and dropped (None)."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        sub = _SUBSCRIPTION_ID.search(text[:100_000])
        if sub is not None and sub.group(1) in self._subscriptions:
            return {
                "method": "eth_subscription",
                "params": {
                    "subscription": sub.group(1),
                    "result": {"unparseable": text[:MAX_UNPARSEABLE]},
                },
            }
        log.warning("non-JSON message from the node", extra={"endpoint": self.endpoint})
        return None

    async def request(self, method: str, params: list[Any]) -> Any:
        if self._failure is not None:
            raise self._failure
        if self._conn is None:
            raise RetryableRpcError(f"{method} on {self.endpoint}: not connected")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, method)
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        try:
            await self._conn.send(json.dumps(body))
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            raise timeout_error(method, self.endpoint, self._timeout) from None
        except websockets.ConnectionClosed as exc:
            raise RetryableRpcError(f"connection to {self.endpoint} dropped: {exc}") from None
        finally:
            self._pending.pop(request_id, None)

    async def subscribe(self, kind: str, *params: Any) -> str:
        """``eth_subscribe``; returns the subscription id its notifications carry."""
        sub = await self.request("eth_subscribe", [kind, *params])
        if not isinstance(sub, str) or not sub:
            # A malformed reply, retried like any other (a wrong chain, bad credentials and an
            # unsupported method are the only fatal errors); FatalRpcError until 4 Dec 2026.
            raise RetryableRpcError(
                f"eth_subscribe on {self.endpoint}: malformed reply {str(sub)[:200]!r} "
                "(not a subscription id); will retry"
            )
        return sub

    async def unsubscribe(self, sub: str) -> None:
        self._subscriptions.discard(sub)
        self._unsubscribed.add(sub)
        with contextlib.suppress(RpcError):
            await self.request("eth_unsubscribe", [sub])

    async def next_notification(self, wait_secs: float) -> Notification | None:
        """The next notification, or None after ``wait_secs`` seconds of silence.

        Raises the connection's failure (dropped, overflowed) once the queue is drained.
        """
        if self._queue.empty() and self._failure is not None:
            raise self._failure
        try:
            async with asyncio.timeout(wait_secs):
                note = await self._queue.get()
        except TimeoutError:
            if self._failure is not None:
                raise self._failure from None
            return None
        if note is None:
            assert self._failure is not None
            raise self._failure
        return note

    @property
    def failed(self) -> bool:
        return self._failure is not None
