"""The real ConditionalTokens on anvil, with an ERC-20 as its collateral, and a Gamma stand-in.

``CtfChain.deploy`` deploys Gnosis' ConditionalTokens (npm
``@gnosis.pm/conditional-tokens-contracts``, its build artifact as published) and OpenZeppelin's
``ERC20PresetMinterPauser`` (npm ``@openzeppelin/contracts``; the CTF package holds no ERC-20 with
bytecode), both pinned in tools/package.json and fetched at test time (``contract_artifact``).
A condition is prepared, split and reported as on Polygon: what the wallet holds and redeems is
the contract's own arithmetic. ``gamma_standin`` answers the one Gamma read the SDK makes before a
redemption (``GET /markets/keyset?condition_ids=…&closed=true``).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from orderflow.chain.tokens import condition_id
from tests.chain_live.anvil_node import Anvil
from tests.conftest import contract_artifact
from tests.local_http import serve

ORACLE_INDEX = 1  # anvil's second account reports the payouts
ZERO32 = b"\0" * 32


def _call(signature: str, types: list[str], values: list[Any]) -> str:
    return "0x" + keccak(text=signature)[:4].hex() + encode(types, values).hex()


def _bytecode(name: str) -> str:
    return str(json.loads(contract_artifact(name).read_text())["bytecode"])


class CtfChain:
    """The CTF and its collateral on one anvil; every transaction waits for its receipt."""

    def __init__(self, node: Anvil, accounts: list[str]) -> None:
        self.node = node
        self.deployer = accounts[0]
        self.oracle = accounts[ORACLE_INDEX]
        self.ctf = ""
        self.usd = ""

    @classmethod
    async def deploy(cls, node: Anvil) -> CtfChain:
        chain = cls(node, list(await node.rpc("eth_accounts")))
        erc20 = _bytecode("ERC20PresetMinterPauser.json")
        args = encode(["string", "string"], ["Test USD", "TUSD"]).hex()
        chain.usd = await chain._create(erc20 + args)
        chain.ctf = await chain._create(_bytecode("ConditionalTokens.json"))
        return chain

    async def send(self, sender: str, to: str | None, data: str) -> dict[str, Any]:
        tx = {"from": sender, "to": to, "data": data, "gas": hex(8_000_000)}
        tx_hash = await self.node.rpc("eth_sendTransaction", tx)
        receipt: dict[str, Any] | None = None
        while receipt is None:  # automine: mined at once, the loop only covers the pool's race
            receipt = await self.node.rpc("eth_getTransactionReceipt", tx_hash)
        if receipt["status"] != "0x1":
            raise RuntimeError(f"transaction {tx_hash} reverted")
        return receipt

    async def _create(self, code: str) -> str:
        receipt = await self.send(self.deployer, None, code)
        return to_checksum_address(receipt["contractAddress"])

    async def prepare(self, question: bytes) -> str:
        """A binary condition reported by the oracle; its id."""
        data = _call(
            "prepareCondition(address,bytes32,uint256)",
            ["address", "bytes32", "uint256"],
            [self.oracle, question, 2],
        )
        await self.send(self.deployer, self.ctf, data)
        return condition_id(self.oracle, question, 2)

    async def split(self, wallet: str, condition: str, amount: int) -> None:
        """``amount`` base units of collateral minted to ``wallet`` and split into YES + NO."""
        mint = _call("mint(address,uint256)", ["address", "uint256"], [wallet, amount])
        await self.send(self.deployer, self.usd, mint)
        approve = _call("approve(address,uint256)", ["address", "uint256"], [self.ctf, amount])
        await self.send(wallet, self.usd, approve)
        split = _call(
            "splitPosition(address,bytes32,bytes32,uint256[],uint256)",
            ["address", "bytes32", "bytes32", "uint256[]", "uint256"],
            [self.usd, ZERO32, bytes.fromhex(condition[2:]), [1, 2], amount],
        )
        await self.send(wallet, self.ctf, split)

    async def token_id(self, condition: str, index_set: int) -> int:
        """The ERC-1155 id of an outcome (index set 1: YES, 2: NO) as the CTF derives it."""
        collection = await self._read(
            self.ctf,
            _call(
                "getCollectionId(bytes32,bytes32,uint256)",
                ["bytes32", "bytes32", "uint256"],
                [ZERO32, bytes.fromhex(condition[2:]), index_set],
            ),
        )
        position = await self._read(
            self.ctf,
            _call(
                "getPositionId(address,bytes32)",
                ["address", "bytes32"],
                [self.usd, collection.to_bytes(32, "big")],
            ),
        )
        return position

    async def give(self, wallet: str, to: str, token: int, amount: int) -> None:
        data = _call(
            "safeTransferFrom(address,address,uint256,uint256,bytes)",
            ["address", "address", "uint256", "uint256", "bytes"],
            [wallet, to, token, amount, b""],
        )
        await self.send(wallet, self.ctf, data)

    async def report(self, question: bytes, payouts: list[int]) -> None:
        data = _call(
            "reportPayouts(bytes32,uint256[])", ["bytes32", "uint256[]"], [question, payouts]
        )
        await self.send(self.oracle, self.ctf, data)

    async def collateral(self, wallet: str) -> int:
        return await self._read(self.usd, _call("balanceOf(address)", ["address"], [wallet]))

    async def shares(self, wallet: str, token: int) -> int:
        data = _call("balanceOf(address,uint256)", ["address", "uint256"], [wallet, token])
        return await self._read(self.ctf, data)

    async def _read(self, to: str, data: str) -> int:
        return int(await self.node.rpc("eth_call", {"to": to, "data": data}, "latest"), 16)


def gamma_market(
    condition: str, tokens: tuple[int, int], *, neg_risk: bool = False
) -> dict[str, Any]:
    """A resolved binary CTF market as Gamma's ``/markets/keyset`` lists it."""
    return {
        "id": "1",
        "conditionId": condition,
        "question": "Will the test pass?",
        "slug": "will-the-test-pass",
        "outcomes": json.dumps(["Yes", "No"]),
        "clobTokenIds": json.dumps([str(t) for t in tokens]),
        "negRisk": neg_risk,
        "closed": True,
        "version": "v1",
    }


class GammaStandin:
    """``GET /markets/keyset``: the markets given, filtered by ``condition_ids`` and ``closed``;
    ``asked`` holds each query."""

    def __init__(self, markets: list[dict[str, Any]]) -> None:
        self.markets = markets
        self.asked: list[dict[str, str]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/markets/keyset", self.keyset)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def keyset(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.asked.append(query)
        wanted = set(query.get("condition_ids", "").split(","))
        closed = query.get("closed")
        found = [
            m
            for m in self.markets
            if m["conditionId"] in wanted and (closed is None or str(m["closed"]).lower() == closed)
        ]
        return web.json_response({"markets": found, "next_cursor": None})
