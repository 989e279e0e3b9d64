"""A real anvil node to drive in tests, with the LogRelay contract at Polymarket's addresses.

``Anvil`` runs ``anvil --port <free> --chain-id 137 --silent`` (about a second to start);
``setup`` installs the LogRelay runtime (contracts/relay.hex) by ``anvil_setCode`` at the REAL
Polymarket exchange and ConditionalTokens addresses, so emitted logs carry the real address,
topic0 and ABI data; ``emit`` / ``emit_block`` make it emit logs. The ``anvil`` fixture
(``conftest.py``) gives each test one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from orderflow.chain import contracts
from tests.conftest import tool_path

RELAY_HEX = (Path(__file__).parent / "contracts" / "relay.hex").read_text().strip()
WATCHED = [*contracts.MAINNET.exchanges, contracts.MAINNET.ctf]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def relay_calldata(topics: Sequence[str], data: str) -> str:
    """The LogRelay's calldata for one log: k, the k topics, then the data bytes."""
    words = [len(topics).to_bytes(32, "big").hex()]
    words += [bytes.fromhex(t.removeprefix("0x")).rjust(32, b"\0").hex() for t in topics]
    return "0x" + "".join(words) + data.removeprefix("0x")


class Anvil:
    """A running anvil process and async helpers to drive it over HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.http_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._client = httpx.AsyncClient(timeout=30)
        self._ids = 0
        self.account = ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(tool_path("anvil")), "--port", str(self.port), "--chain-id", "137", "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
                return
            time.sleep(0.05)
        raise RuntimeError("anvil did not start within 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    async def rpc(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body = {"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}
        reply = (await self._client.post(self.http_url, json=body)).json()
        if "error" in reply:
            raise RuntimeError(f"anvil {method}: {reply['error']}")
        return reply["result"]

    async def setup(self) -> None:
        self.account = (await self.rpc("eth_accounts"))[0]
        for address in WATCHED:
            await self.rpc("anvil_setCode", address, RELAY_HEX)

    async def emit(self, raw_log: dict[str, Any], *, wait: bool = True) -> str:
        """Send one transaction making the relay at ``raw_log['address']`` emit that log.

        anvil answers eth_sendTransaction once the transaction is in its pool; automine then
        mines it in the background, so ``wait`` polls for the receipt.
        """
        tx = {
            "from": self.account,
            "to": raw_log["address"],
            "data": relay_calldata(raw_log["topics"], raw_log["data"]),
            "gas": hex(1_000_000),
        }
        tx_hash = str(await self.rpc("eth_sendTransaction", tx))
        deadline = time.monotonic() + 30
        while wait and await self.rpc("eth_getTransactionReceipt", tx_hash) is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"transaction {tx_hash} not mined within 30 s")
            await asyncio.sleep(0.01)
        return tx_hash

    async def emit_block(self, raw_logs: Sequence[dict[str, Any]]) -> int:
        """Emit several logs in ONE block (automine paused); returns the block number."""
        await self.rpc("evm_setAutomine", False)
        try:
            for raw in raw_logs:
                await self.emit(raw, wait=False)
            await self.rpc("evm_mine")
        finally:
            await self.rpc("evm_setAutomine", True)
        return await self.head()

    async def head(self) -> int:
        return int(await self.rpc("eth_blockNumber"), 16)

    async def mine(self, blocks: int = 1) -> None:
        await self.rpc("anvil_mine", hex(blocks))

    async def aclose(self) -> None:
        await self._client.aclose()
