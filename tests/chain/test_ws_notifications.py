"""The WebSocket transport's reading of subscription messages of every shape (no socket needed:
the messages go straight to the reader's dispatch, as they would arrive from a node).

A notification of one of our subscriptions is queued; one of a subscription we dropped is
ignored; any other — another id, or a ``subscription`` that is not a string at all — is a lost
notification: the connection is failed (the listener resynchronises from its block), never a
crash of the reader.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderflow.chain.rpc_ws import WsTransport


def _note(sub: Any, result: Any) -> str:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": sub, "result": result},
        }
    )


def _transport() -> WsTransport:
    ws = WsTransport("ws://127.0.0.1:1/key")
    ws._subscriptions.add("0xa1")
    ws._unsubscribed.add("0xd0")
    return ws


LOG = {"blockNumber": "0x10", "logIndex": "0x0"}


async def test_a_notification_of_ours_is_queued() -> None:
    ws = _transport()
    ws._dispatch(_note("0xa1", LOG))
    note = await ws.next_notification(0.01)
    assert note is not None and note.result == LOG
    assert not ws.failed


async def test_a_late_notification_of_a_dropped_subscription_is_ignored() -> None:
    ws = _transport()
    ws._dispatch(_note("0xd0", LOG))
    assert await ws.next_notification(0.01) is None
    assert not ws.failed and ws.strays == 0


@pytest.mark.parametrize("sub", ["0xbeef", [1], {"a": 1}, None, 7])
async def test_any_other_subscription_is_a_lost_notification(sub: Any) -> None:
    ws = _transport()
    ws._dispatch(_note(sub, LOG))
    ws._dispatch(_note("0xa1", {**LOG, "blockNumber": "0x11"}))  # later ones are dropped too
    assert ws.failed and ws.strays == 1
    assert ws.dropped_from_block == 0x10
    with pytest.raises(Exception, match="never confirmed"):
        await ws.next_notification(0.01)


async def test_a_message_without_params_is_a_lost_notification() -> None:
    ws = _transport()
    ws._dispatch(json.dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": [1]}))
    assert ws.failed and ws.strays == 1 and ws.dropped_from_block is None
