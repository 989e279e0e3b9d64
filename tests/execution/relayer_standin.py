"""A stand-in of Polymarket's relayer at its HTTP boundary, carrying out each call on anvil.

It answers the requests the official SDK sends for a proxy, Safe or deposit wallet's gasless
transaction
(polymarket/_internal/actions/relayer: ``deployed``, ``relay-payload``, ``transactions/params``,
``submit``, ``transactions/{id}``) and the key owner's recent transactions (``GET /transactions``,
docs.polymarket.com "Get recent transactions for a user": ``transactionID``, ``proxyAddress``,
``nonce``, ``state``, ``type``, ``metadata``, ``createdAt``…, most recent first), as Polymarket's
relayer API documents them: ``/submit`` and ``/transactions`` are
authenticated by ``RELAYER_API_KEY`` + ``RELAYER_API_KEY_ADDRESS`` (refused 401 otherwise), takes
the wallet's next nonce only (400 otherwise), answers ``transactionID`` and ``STATE_NEW`` without
a hash; the transaction then reads ``STATE_MINED`` with its hash and, once looked at, ``STATE_
CONFIRMED``. A submitted call is carried out as the wallet would: the proxy or Safe address
(``anvil_impersonateAccount``) sends each decoded call to its target, so the real contracts do
the arithmetic. Failures on demand: ``refuse`` (400 with a text), ``busy`` (429 a number of
times), ``fail`` (accepted, then ``STATE_FAILED`` without touching the chain), ``hold`` (accepted,
left ``STATE_NEW`` until released), ``lose_next_answer`` (the next submit accepted, then
answered 502 all the same: a gateway's answer lost after the relayer took it), ``list_fails``
(``GET /transactions`` answered 500).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from aiohttp import web
from eth_abi.abi import decode

from tests.chain_live.anvil_node import Anvil
from tests.local_http import serve

RELAY = "0x7a4c1dfF5B5a28Ef8F2cE3eA23F5E8f0c7a0C0DE"  # the relay address it names to a proxy
_PROXY_SELECTOR = "34ee9791"  # proxy((uint8,address,uint256,bytes)[]) on the proxy factory


@dataclasses.dataclass
class Relayed:
    id: str
    wallet: str
    calls: list[tuple[str, str]]
    signer: str = ""
    nonce: str = ""
    type: str = ""
    metadata: str = ""
    state: str = "STATE_NEW"
    tx_hash: str | None = None
    error: str | None = None


class RelayerStandin:
    def __init__(self, node: Anvil, *, key: str, key_address: str) -> None:
        self.node = node
        self.key, self.key_address = key, key_address.lower()
        self.wallets: set[str] = set()  # deployed proxy/Safe wallets, lower case
        self.nonces: dict[str, int] = {}  # per signer
        self.transactions: dict[str, Relayed] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.refuse: str | None = None
        self.busy = 0
        self.fail = False
        self.hold = False
        self.lose_next_answer = False
        self.list_fails = False
        self._ids = itertools.count(1)
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/deployed", self._deployed)
        app.router.add_get("/relay-payload", self._params)
        app.router.add_get("/v1/account/transactions/params", self._params)
        app.router.add_post("/submit", self._submit)
        app.router.add_get("/v1/account/transactions/{id}", self._transaction)
        app.router.add_get("/transactions", self._recent)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def submitted(self) -> list[Relayed]:
        return list(self.transactions.values())

    async def release(self) -> None:
        """Carry out the transactions held ``STATE_NEW``."""
        self.hold = False
        for tx in self.transactions.values():
            if tx.state == "STATE_NEW":
                await self._carry_out(tx)

    def _seen(self, request: web.Request) -> None:
        self.requests.append((request.method, request.path, dict(request.headers)))

    async def _deployed(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.json_response({"deployed": request.query["address"].lower() in self.wallets})

    async def _params(self, request: web.Request) -> web.Response:
        self._seen(request)
        nonce = self.nonces.get(request.query["address"].lower(), 0)
        return web.json_response({"address": RELAY, "nonce": str(nonce)})

    async def _submit(self, request: web.Request) -> web.Response:
        self._seen(request)
        if not self._authorized(request):
            return web.json_response({"error": "invalid authorization"}, status=401)
        if self.busy > 0:
            self.busy -= 1
            return web.json_response({"error": "too many requests"}, status=429)
        if self.refuse is not None:
            return web.json_response({"error": self.refuse}, status=400)
        body: dict[str, Any] = await request.json()
        signer, wallet = str(body["from"]).lower(), _wallet(body).lower()
        expected = self.nonces.get(signer, 0)
        if wallet not in self.wallets or str(body["nonce"]) != str(expected):
            why = f"invalid nonce {body['nonce']} (expected {expected}) or unknown wallet"
            return web.json_response({"error": why}, status=400)
        self.nonces[signer] = expected + 1
        tx = Relayed(
            id=f"0190b317-{next(self._ids):04d}",
            wallet=wallet,
            calls=_calls(body),
            signer=signer,
            nonce=str(body["nonce"]),
            type=str(body["type"]),
            metadata=str(body.get("metadata", "")),
        )
        self.transactions[tx.id] = tx
        if self.fail:
            tx.state, tx.error = "STATE_FAILED", "execution reverted"
        elif not self.hold:
            await self._carry_out(tx)
        if self.lose_next_answer:
            self.lose_next_answer = False
            return web.json_response({"error": "bad gateway"}, status=502)
        return web.json_response({"transactionID": tx.id, "state": "STATE_NEW"})

    async def _recent(self, request: web.Request) -> web.Response:
        """The key owner's transactions, most recent first."""
        self._seen(request)
        if not self._authorized(request):
            return web.json_response({"error": "invalid authorization"}, status=401)
        if self.list_fails:
            return web.json_response({"error": "internal error"}, status=500)
        owned = [t for t in self.transactions.values() if t.signer == self.key_address]
        return web.json_response([_listed(t) for t in reversed(owned)])

    def _authorized(self, request: web.Request) -> bool:
        headers = request.headers
        given = (headers.get("RELAYER_API_KEY"), headers.get("RELAYER_API_KEY_ADDRESS", "").lower())
        return given == (self.key, self.key_address)

    async def _transaction(self, request: web.Request) -> web.Response:
        self._seen(request)
        tx = self.transactions.get(request.match_info["id"])
        if tx is None:
            return web.json_response({"error": "transaction not found"}, status=404)
        answer = {
            "transaction_id": tx.id,
            "transaction_hash": tx.tx_hash or "",
            "state": tx.state,
            "error_msg": tx.error,
        }
        if tx.state == "STATE_MINED":
            tx.state = "STATE_CONFIRMED"  # the next look finds it confirmed
        return web.json_response(answer)

    async def _carry_out(self, tx: Relayed) -> None:
        """The wallet sends each call (the relayer's transaction, as the chain sees its
        effects); a revert fails the transaction."""
        await self.node.rpc("anvil_impersonateAccount", tx.wallet)
        await self.node.rpc("anvil_setBalance", tx.wallet, hex(10**18))
        for to, data in tx.calls:
            sent = {"from": tx.wallet, "to": to, "data": data, "gas": hex(5_000_000)}
            tx_hash = await self.node.rpc("eth_sendTransaction", sent)
            receipt = await self.node.rpc("eth_getTransactionReceipt", tx_hash)
            tx.tx_hash = tx_hash
            if receipt is None or receipt["status"] != "0x1":
                tx.state, tx.error = "STATE_FAILED", f"transaction {tx_hash} reverted"
                return
        tx.state = "STATE_MINED"


def _listed(tx: Relayed) -> dict[str, str]:
    return {
        "transactionID": tx.id,
        "transactionHash": tx.tx_hash or "",
        "from": tx.signer,
        "proxyAddress": tx.wallet,
        "nonce": tx.nonce,
        "state": tx.state,
        "type": tx.type,
        "owner": tx.signer,
        "metadata": tx.metadata,
    }


def _wallet(body: dict[str, Any]) -> str:
    if body["type"] == "WALLET":
        return str(body["depositWalletParams"]["depositWallet"])
    return str(body["proxyWallet"])


def _calls(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The calls a PROXY payload (the factory's ``proxy(calls)``), a SAFE one (operation 0: one
    call, to ``to`` with ``data``) or a deposit wallet's batch (WALLET: its ``calls``) asks the
    wallet to make."""
    if body["type"] == "WALLET":
        calls = body["depositWalletParams"]["calls"]
        return [(str(c["target"]), str(c["data"])) for c in calls]
    if body["type"] == "SAFE":
        return [(str(body["to"]), str(body["data"]))]
    data = str(body["data"]).removeprefix("0x")
    assert data[:8] == _PROXY_SELECTOR, f"not a proxy() call: {data[:8]}"
    (calls,) = decode(["(uint8,address,uint256,bytes)[]"], bytes.fromhex(data[8:]))
    return [(str(to), "0x" + bytes(payload).hex()) for _kind, to, _value, payload in calls]
