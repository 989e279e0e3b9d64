"""Fixtures for the live listener: a real anvil node, the LogRelay contract, a cuttable TCP proxy.

* ``anvil``: ``anvil --port <free> --chain-id 137 --silent`` per test (about a second to start),
  with the LogRelay runtime (contracts/relay.hex) installed by ``anvil_setCode`` at the REAL
  Polymarket exchange and ConditionalTokens addresses, so emitted logs carry the real address,
  topic0 and ABI data (``anvil_node.Anvil``).
* ``proxy``: a TCP proxy in front of anvil; ``cut()`` drops every open connection (a dropped
  WebSocket as the listener sees it), ``refuse`` makes new connections fail
  (``in_front.TcpProxy``).
* ``relay``: a WebSocket relay in front of anvil that can withhold heads or hold notifications
  back (``in_front.WsRelay``).
* ``standin``: the hostile-values WebSocket stand-in (``standin.py``).

The building blocks live in ``anvil_node.py`` and ``in_front.py`` (with ``node_in_front``, a
JSON-RPC node over HTTP in front of anvil that a test steers); tests import them from there.

anvil facts these tests rely on (checked against anvil 1.7.1): logs from eth_getLogs and from
the logs subscription carry ``blockTimestamp``; ``evm_revert`` and ``anvil_reorg`` emit the new
chain's newHeads but no ``removed: true`` logs; automine gives every transaction its own block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.chain_live.anvil_node import Anvil, free_port
from tests.chain_live.in_front import TcpProxy, WsRelay
from tests.chain_live.standin import standin  # noqa: F401  (the hostile-values WebSocket stand-in)


@pytest.fixture
def anvil_process() -> Iterator[Anvil]:
    node = Anvil(free_port())
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
async def anvil(anvil_process: Anvil) -> AsyncIterator[Anvil]:
    await anvil_process.setup()
    try:
        yield anvil_process
    finally:
        await anvil_process.aclose()


@pytest.fixture
async def proxy(anvil: Anvil) -> AsyncIterator[TcpProxy]:
    p = TcpProxy(anvil.port)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


@pytest.fixture
async def relay(anvil: Anvil) -> AsyncIterator[WsRelay]:
    r = WsRelay(anvil.ws_url)
    await r.start()
    try:
        yield r
    finally:
        await r.stop()
