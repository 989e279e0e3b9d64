"""A local stand-in for Polymarket's CLOB V2 REST API: the endpoints the SDK calls, checked.

It is written from the exchange's published rules (polymarket facts §6), independently of the
executor's code, so a test passing against it means the SDK-built requests are what the real CLOB
accepts:

* L1 auth (``POST /auth/api-key``, ``GET /auth/derive-api-key``): the ``ClobAuthDomain`` EIP-712
  signature must recover to ``POLY_ADDRESS``;
* L2 auth (everything under an API key): ``POLY_API_KEY`` and ``POLY_PASSPHRASE`` must match and
  ``POLY_SIGNATURE`` must be the URL-safe base64 HMAC-SHA256, keyed with the base64 secret, of
  ``timestamp + method + path + body``;
* ``POST /order``: the order's EIP-712 signature (domain "Polymarket CTF Exchange" version 2 on
  the standard or neg-risk exchange of the token's market, or version 3 on ExchangeV3) must
  recover to ``signer``; an EOA order (signature type 0) must have ``maker == signer``; price on
  the market's tick; ``owner`` = the API key. Its id is the order's EIP-712 hash.

Matching is a one-level book per token: a BUY whose limit reaches the ask fills in full at the
limit, otherwise it rests (status ``live``). ``lose_next_response`` accepts the next order and
drops the connection without answering (a response lost in transit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

STANDARD_EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"
CHAIN_ID = 137
AUTH_MESSAGE = "This message attests that I control the given wallet"
_ORDER_TYPE = [
    {"name": n, "type": t}
    for n, t in (
        ("salt", "uint256"),
        ("maker", "address"),
        ("signer", "address"),
        ("tokenId", "uint256"),
        ("makerAmount", "uint256"),
        ("takerAmount", "uint256"),
        ("side", "uint8"),
        ("signatureType", "uint8"),
        ("timestamp", "uint256"),
        ("metadata", "bytes32"),
        ("builder", "bytes32"),
    )
]


@dataclass
class Market:
    condition_id: str
    tokens: tuple[int, ...]
    neg_risk: bool = False
    tick: Decimal = Decimal("0.01")
    asks: dict[int, Decimal] = field(default_factory=dict)


@dataclass
class Creds:
    address: str
    key: str
    secret: str
    passphrase: str


class FakeClob:
    def __init__(self) -> None:
        self.markets: dict[int, Market] = {}
        self.creds: dict[str, Creds] = {}  # by address
        self.orders: dict[str, dict[str, Any]] = {}  # by order hash
        self.requests: list[tuple[str, str]] = []
        self.rejections: list[str] = []
        self.lose_next_response = False
        self.url = ""
        self._runner: web.AppRunner | None = None

    def add_market(self, market: Market) -> None:
        for token in market.tokens:
            self.markets[token] = market

    # ------------------------------------------------------------------ server

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_post("/auth/api-key", self.create_api_key)
        r.add_get("/auth/derive-api-key", self.derive_api_key)
        r.add_get("/auth/api-keys", self.api_keys)
        r.add_get("/markets-by-token/{token}", self.market_by_token)
        r.add_get("/clob-markets/{condition}", self.clob_market)
        r.add_post("/order", self.post_order)
        r.add_get("/data/order/{order_id}", self.get_order)
        r.add_delete("/orders", self.cancel_orders)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        return await handler(request)  # type: ignore[no-any-return]

    def _reject(self, status: int, message: str) -> web.Response:
        self.rejections.append(message)
        return web.json_response({"error": message}, status=status)

    # ------------------------------------------------------------------ auth

    def _l1_address(self, request: web.Request) -> str | None:
        h = request.headers
        try:
            address, signature = h["POLY_ADDRESS"], h["POLY_SIGNATURE"]
            timestamp, nonce = h["POLY_TIMESTAMP"], int(h["POLY_NONCE"])
        except (KeyError, ValueError):
            return None
        typed = {
            "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                ],
                "ClobAuth": [
                    {"name": "address", "type": "address"},
                    {"name": "timestamp", "type": "string"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "message", "type": "string"},
                ],
            },
            "primaryType": "ClobAuth",
            "message": {
                "address": address,
                "timestamp": timestamp,
                "nonce": nonce,
                "message": AUTH_MESSAGE,
            },
        }
        signer = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
        return address if signer.lower() == address.lower() else None

    async def create_api_key(self, request: web.Request) -> web.Response:
        address = self._l1_address(request)
        if address is None:
            return self._reject(401, "invalid L1 signature")
        if address.lower() in self.creds:
            return self._reject(400, "api key already exists")
        creds = Creds(
            address=address,
            key=secrets.token_hex(16),
            secret=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            passphrase=secrets.token_hex(16),
        )
        self.creds[address.lower()] = creds
        return web.json_response(
            {"apiKey": creds.key, "secret": creds.secret, "passphrase": creds.passphrase}
        )

    async def derive_api_key(self, request: web.Request) -> web.Response:
        address = self._l1_address(request)
        if address is None or address.lower() not in self.creds:
            return self._reject(401, "invalid L1 signature")
        c = self.creds[address.lower()]
        return web.json_response({"apiKey": c.key, "secret": c.secret, "passphrase": c.passphrase})

    async def _l2(self, request: web.Request) -> tuple[Creds | None, str]:
        body = await request.text()
        h = request.headers
        creds = self.creds.get(h.get("POLY_ADDRESS", "").lower())
        if creds is None or h.get("POLY_API_KEY") != creds.key:
            return None, "unknown api key"
        if h.get("POLY_PASSPHRASE") != creds.passphrase:
            return None, "bad passphrase"
        timestamp = h.get("POLY_TIMESTAMP", "")
        if not timestamp.isdigit() or abs(int(timestamp) - time.time()) > 60:
            return None, "stale timestamp"
        message = f"{timestamp}{request.method}{request.path}{body}"
        secret = base64.urlsafe_b64decode(creds.secret + "=" * (-len(creds.secret) % 4))
        digest = hmac.new(secret, message.encode(), hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(digest).decode()
        if not hmac.compare_digest(expected, h.get("POLY_SIGNATURE", "")):
            return None, "bad HMAC signature"
        return creds, body

    async def api_keys(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        return web.json_response({"apiKeys": [creds.key]})

    # ------------------------------------------------------------------ markets

    async def market_by_token(self, request: web.Request) -> web.Response:
        market = self.markets.get(int(request.match_info["token"]))
        if market is None:
            return self._reject(404, "market not found")
        return web.json_response({"condition_id": market.condition_id})

    async def clob_market(self, request: web.Request) -> web.Response:
        cid = request.match_info["condition"]
        market = next((m for m in self.markets.values() if m.condition_id == cid), None)
        if market is None:
            return self._reject(404, "market not found")
        return web.json_response(
            {
                "nr": market.neg_risk,
                "t": [{"t": str(t)} for t in market.tokens],
                "mts": float(market.tick),
            }
        )

    # ------------------------------------------------------------------ orders

    @staticmethod
    def exchange_for(token_id: int, market: Market) -> tuple[str, str]:
        """ExchangeV3 for structured Protocol V2 ids (their 64 reserved bits are zero), else the
        standard or neg-risk CLOB V2 exchange."""
        reserved = (token_id >> 40) & ((1 << 64) - 1)
        if reserved == 0:
            return EXCHANGE_V3, "3"
        return (NEG_RISK_EXCHANGE if market.neg_risk else STANDARD_EXCHANGE), "2"

    @staticmethod
    def order_hash(order: dict[str, Any], exchange: str, version: str = "2") -> tuple[str, Any]:
        typed = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Order": _ORDER_TYPE,
            },
            "primaryType": "Order",
            "domain": {
                "name": "Polymarket CTF Exchange",
                "version": version,
                "chainId": CHAIN_ID,
                "verifyingContract": exchange,
            },
            "message": {
                "salt": int(order["salt"]),
                "maker": order["maker"],
                "signer": order["signer"],
                "tokenId": int(order["tokenId"]),
                "makerAmount": int(order["makerAmount"]),
                "takerAmount": int(order["takerAmount"]),
                "side": 0 if order["side"] == "BUY" else 1,
                "signatureType": int(order["signatureType"]),
                "timestamp": int(order["timestamp"]),
                "metadata": order["metadata"],
                "builder": order["builder"],
            },
        }
        signable = encode_typed_data(full_message=typed)
        digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
        return "0x" + digest.hex(), signable

    async def post_order(self, request: web.Request) -> web.StreamResponse:
        creds, body = await self._l2(request)
        if creds is None:
            return self._reject(401, body)
        payload = json.loads(body)
        order = payload["order"]
        if payload.get("owner") != creds.key:
            return self._reject(400, "owner is not the API key")
        market = self.markets.get(int(order["tokenId"]))
        if market is None:
            return self._reject(400, "unknown token")
        exchange, version = self.exchange_for(int(order["tokenId"]), market)
        order_id, signable = self.order_hash(order, exchange, version)
        try:
            signer = Account.recover_message(signable, signature=order["signature"])
        except Exception:
            return self._reject(400, "invalid signature")
        if signer.lower() != order["signer"].lower():
            return self._reject(400, "invalid signature")
        if int(order["signatureType"]) == 0 and order["maker"].lower() != signer.lower():
            return self._reject(400, "EOA order: maker must be the signer")
        if order["maker"].lower() != creds.address.lower() and int(order["signatureType"]) == 0:
            return self._reject(400, "order maker is not the API key's address")
        expiration = int(order["expiration"])
        if payload["orderType"] == "GTD" and expiration <= time.time():
            return self._reject(400, "invalid expiration")
        maker, taker = Decimal(order["makerAmount"]), Decimal(order["takerAmount"])
        side = order["side"]
        shares, usdc = (taker, maker) if side == "BUY" else (maker, taker)
        price = usdc / shares
        if price % market.tick != 0:
            return self._reject(400, f"price {price} not on tick {market.tick}")
        if order_id in self.orders:
            return self._reject(400, "order already exists")
        ask = market.asks.get(int(order["tokenId"]))
        matched = side == "BUY" and ask is not None and ask <= price
        self.orders[order_id] = {
            "order": order,
            "price": price,
            "shares": shares / 10**6,
            "matched": shares / 10**6 if matched else Decimal(0),
            "status": "MATCHED" if matched else "LIVE",
            "condition_id": market.condition_id,
            "owner": creds.key,
            "order_type": payload["orderType"],
        }
        if self.lose_next_response:
            self.lose_next_response = False
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return web.json_response(
            {
                "success": True,
                "errorMsg": "",
                "orderID": order_id,
                "status": "matched" if matched else "live",
                "makingAmount": str(maker / 10**6) if matched else "0",
                "takingAmount": str(taker / 10**6) if matched else "0",
                "transactionsHashes": ["0x" + secrets.token_hex(32)] if matched else [],
                "tradeIDs": [secrets.token_hex(8)] if matched else [],
            }
        )

    async def get_order(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        found = self.orders.get(request.match_info["order_id"])
        if found is None or found["owner"] != creds.key:
            return self._reject(404, "order not found")
        o = found["order"]
        return web.json_response(
            {
                "id": request.match_info["order_id"],
                "market": found["condition_id"],
                "asset_id": o["tokenId"],
                "owner": found["owner"],
                "maker_address": o["maker"],
                "side": o["side"],
                "price": str(found["price"]),
                "original_size": str(found["shares"]),
                "size_matched": str(found["matched"]),
                "outcome": "Yes",
                "order_type": found["order_type"],
                "status": found["status"],
                "associate_trades": [],
                "created_at": int(int(o["timestamp"]) / 1000),
                "expiration": o["expiration"],
            }
        )

    async def cancel_orders(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        if creds is None:
            return self._reject(401, body)
        canceled, not_canceled = [], {}
        for order_id in json.loads(body):
            found = self.orders.get(order_id)
            if found is None or found["status"] != "LIVE":
                not_canceled[order_id] = "not open"
                continue
            found["status"] = "CANCELED"
            canceled.append(order_id)
        return web.json_response({"canceled": canceled, "not_canceled": not_canceled})
