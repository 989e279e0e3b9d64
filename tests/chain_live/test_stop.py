"""A stop (task cancellation: SIGTERM in ``orderflow listen``) is never lost, whenever it lands.

Python 3.11's ``asyncio.wait_for`` returns the result instead of raising CancelledError when
the caller is cancelled in the loop turn its awaitable completes. The WebSocket transport used
it for every reply, so a stop landing with a reply was swallowed and the listener ran on,
reconnecting after every silence timeout, forever (a CI run of test_conditions hung 300 s on
it). Each test here makes the stop land at exactly such a moment, against a real anvil; each
failed before the fix. The last two stand in for any library that still swallows a stop: the
listener's retry loops must end anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect

from orderflow.chain import listener as listener_module
from orderflow.chain.listener import Listener
from orderflow.chain.rpc_ws import WsTransport
from orderflow.errors import RetryableRpcError
from tests.chain_live.anvil_node import Anvil
from tests.chain_live.listener_runs import STOP_BOUND_SECS, make_settings
from tests.chain_live.logs import order_filled_v2

pytestmark = pytest.mark.anvil


def stop_after_dispatch(
    monkeypatch: pytest.MonkeyPatch, target: WsTransport | type[WsTransport], nth: int = 1
) -> list[asyncio.Task[Any]]:
    """Cancel the task put in the returned list right after the ``nth`` message from the node
    is dispatched: the stop arrives in the same loop turn as that reply or notification."""
    to_stop: list[asyncio.Task[Any]] = []
    dispatched = 0
    original: Callable[..., None] = WsTransport._dispatch

    def dispatch_then_stop(self: WsTransport, raw: str | bytes) -> None:
        nonlocal dispatched
        original(self, raw)
        dispatched += 1
        if dispatched == nth and to_stop:
            to_stop[0].cancel()

    if isinstance(target, WsTransport):
        monkeypatch.setattr(target, "_dispatch", dispatch_then_stop.__get__(target))
    else:
        monkeypatch.setattr(target, "_dispatch", dispatch_then_stop)
    return to_stop


async def test_a_stop_arriving_with_a_reply_stops_the_request(
    anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with WsTransport(anvil.ws_url, timeout_secs=10) as ws:
        to_stop = stop_after_dispatch(monkeypatch, ws)
        to_stop.append(asyncio.create_task(ws.request("eth_blockNumber", [])))
        with pytest.raises(asyncio.CancelledError):
            await to_stop[0]


async def test_a_stop_arriving_with_a_notification_stops_the_wait_and_keeps_it(
    anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with WsTransport(anvil.ws_url, timeout_secs=10) as ws:
        heads = await ws.subscribe("newHeads")
        to_stop = stop_after_dispatch(monkeypatch, ws)
        to_stop.append(asyncio.create_task(ws.next_notification(10)))
        await asyncio.sleep(0)  # the consumer waits on the queue
        await anvil.mine(1)
        with pytest.raises(asyncio.CancelledError):
            await to_stop[0]
        note = await ws.next_notification(10)  # still queued: a later consumer gets it
        assert note is not None and note.subscription == heads


async def test_a_stop_arriving_as_the_connection_opens_stops_connect(
    anvil: Anvil, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orderflow.chain import rpc_ws

    ws = WsTransport(anvil.ws_url, timeout_secs=10)
    to_stop: list[asyncio.Task[None]] = []
    real_connect = connect  # what rpc_ws imported

    async def connect_then_stop(*args: Any, **kwargs: Any) -> Any:
        conn = await real_connect(*args, **kwargs)
        to_stop[0].cancel()
        return conn

    monkeypatch.setattr(rpc_ws, "connect", connect_then_stop)
    to_stop.append(asyncio.create_task(ws.connect()))
    try:
        with pytest.raises(asyncio.CancelledError):
            await to_stop[0]
    finally:
        await ws.close()


async def test_a_stop_while_closing_is_not_swallowed(anvil: Anvil) -> None:
    ws = WsTransport(anvil.ws_url, timeout_secs=10)
    await ws.connect()
    closing = asyncio.create_task(ws.close())
    await asyncio.sleep(0)  # close() has cancelled its reader and waits for it to end
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await closing
    assert ws.failed  # and it still closed


async def stopped(task: asyncio.Task[None]) -> bool:
    """Whether ``task`` ended within STOP_BOUND_SECS of its cancellation (never hangs)."""
    done, _ = await asyncio.wait({task}, timeout=STOP_BOUND_SECS)
    if not done:  # ignored: stop it for good so the test ends (the fakes swallow once)
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_BOUND_SECS)
    return bool(done)


@pytest.mark.parametrize("nth", range(1, 9))
async def test_the_listener_stops_whichever_message_the_stop_lands_with(
    anvil: Anvil, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, nth: int
) -> None:
    """Replies 1-8 of a session's start (chain id, head, headers, subscriptions …)."""
    await anvil.emit(order_filled_v2(order_hash=1))
    to_stop = stop_after_dispatch(monkeypatch, WsTransport, nth)
    listener = Listener(pool, make_settings(anvil.ws_url, CONDITION_SYNC=False))
    to_stop.append(asyncio.create_task(listener.run()))
    assert await stopped(to_stop[0]), f"the stop landing with message {nth} was ignored"
    assert to_stop[0].cancelled()


class _SwallowOnce:
    """A session or sync whose first run turns its cancellation into a connection error, as a
    library catching CancelledError would; later runs wait until cancelled."""

    swallowed = 0
    started = asyncio.Event()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    async def run(self) -> None:
        _SwallowOnce.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            if _SwallowOnce.swallowed:
                raise
            _SwallowOnce.swallowed += 1
            raise RetryableRpcError("connection lost (a swallowed stop)") from None


@pytest.mark.parametrize("loop", ["LiveSession", "ConditionSync"])
async def test_a_stop_swallowed_below_still_ends_the_retry_loops(
    anvil: Anvil, pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, loop: str
) -> None:
    _SwallowOnce.swallowed = 0
    _SwallowOnce.started = asyncio.Event()
    monkeypatch.setattr(listener_module, loop, _SwallowOnce)
    listener = Listener(pool, make_settings(anvil.ws_url, CONDITION_SYNC_FROM_BLOCK=0))
    task = asyncio.create_task(listener.run())
    await asyncio.wait_for(_SwallowOnce.started.wait(), STOP_BOUND_SECS)
    task.cancel()
    assert await stopped(task), f"the {loop} retry loop reconnected instead of stopping"
    assert _SwallowOnce.swallowed == 1
