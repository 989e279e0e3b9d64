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

What the exchange does with an order, no kinder than the real one:

* matching against a one-level book per token: a BUY whose limit reaches the ask, or a SELL whose
  limit reaches the bid, fills at the limit up to the size resting there (``ask_sizes`` /
  ``bid_sizes``; unlimited when absent); the remainder rests (``live``). A resting order fills
  later when the test calls :meth:`FakeClob.fill` (a counterparty takes it);
* refusals with the real CLOB's statuses and bodies: HTTP 400 ``not enough balance / allowance``
  (collateral for BUYs, shares for SELLs, both net of what live orders reserve, or no allowance),
  HTTP 400 ``order 0x… is invalid. Size (1.08) lower than the minimum: 5`` (the market's
  ``min_size``, for every order, BUY or SELL; py-clob-client issue 301), HTTP 400 ``invalid amount
  for a marketable BUY order ($0.7), min size: $1`` (a BUY that crosses the book worth under $1;
  a resting BUY and a SELL have no dollar minimum), ``invalid expiration``, HTTP 429 when rate
  limited;
* GTD orders expire at their ``expiration`` (on the exchange's clock, which tests can move);
* a fully matched order is gone from ``GET /data/order/{id}`` (the real CLOB answers nothing,
  py-clob-client issue 217: "it will be in get_trades") and its fills are in ``GET /data/trades``
  (paginated, as the account's trades: ``trader_side`` TAKER for fills at placement, MAKER with
  our entry in ``maker_orders`` for fills of a resting order);
* neg-risk markets (the order must be signed for the neg-risk exchange);
* settlement on chain: each trade starts ``TRADE_STATUS_MATCHED`` (the REST wire form, as the
  real ``/data/trades`` serialises it) and the test moves it on with :meth:`FakeClob.settle`:
  MINED, CONFIRMED, RETRYING (resubmitted: a new transaction hash), FAILED (for good: the
  transfer never happened, so the balances it moved come back). ``last_update`` follows. What
  the real CLOB does with the order's matched size after a failed trade is not documented: the
  stand-in leaves the order as it was (a fully matched order stays gone from the order endpoint);
* several makers at a level (``ask_lots`` / ``bid_lots``): a taker order matched against k of
  them gets k trades, and the placement response lists the k trade ids.

* ``UNMATCHED`` on the order endpoint (:meth:`FakeClob.report`), or in the placement answer
  (``unmatched_next``: the next order is placed, not matched, and answered ``"status":
  "unmatched"``): what becomes of such an order is
  not documented (Polymarket's placement statuses: "order marketable, but failure delaying,
  placement successful"; other sources read it as terminal), so the stand-in takes both
  readings at their worst: the order may still be filled (:meth:`FakeClob.fill`) and it stays
  ``UNMATCHED`` past its expiry (it is not expired like a live order).

Variations: ``delay`` (a slow exchange, seconds before each answer), ``response_delays`` (the
request is processed at once, its answer arrives late), ``faults`` (the next answers
of a route are 503/429/… without processing), ``lose_next_response`` (the next order is accepted
and the connection dropped without an answer), ``forgetful`` (every order that is not live is
gone from ``GET /data/order/{id}``, cancelled and expired ones too).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
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
    ask_sizes: dict[int, Decimal] = field(default_factory=dict)  # absent: unlimited
    bids: dict[int, Decimal] = field(default_factory=dict)
    bid_sizes: dict[int, Decimal] = field(default_factory=dict)
    min_size: Decimal = Decimal(5)
    # The makers' orders resting at the level, in queue order (absent: one maker): a match takes
    # them in turn, one trade each.
    ask_lots: dict[int, list[Decimal]] = field(default_factory=dict)
    bid_lots: dict[int, list[Decimal]] = field(default_factory=dict)


@dataclass
class Fault:
    """The next ``times`` requests to ``method path*`` get ``status`` without being processed."""

    method: str
    path: str
    status: int
    times: int = 1_000_000
    body: dict[str, Any] = field(default_factory=lambda: {"error": "service unavailable"})


RATE_LIMITED = {"error": "Too Many Requests"}
# The CLOB refuses a marketable BUY worth less than this many dollars (whatever its size in shares).
MIN_MARKETABLE_BUY_USDC = Decimal(1)


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
        self.trades: list[dict[str, Any]] = []
        self.lose_next_response = False
        self.unmatched_next = False
        self.forgetful = False
        self.delay = 0.0
        # Slow routes: a path ending in "/" delays every path under it, else that exact path.
        self.path_delays: dict[str, float] = {}
        # Slow answers: the request is processed at once, its answer held this long (a path).
        self.response_delays: dict[str, float] = {}
        self.pending: dict[str, int] = {}  # requests of a slow route being held right now
        self.answered: dict[str, int] = {}  # requests of a slow route answered so far
        self.faults: list[Fault] = []
        self.collateral: Decimal | None = None  # USDC balance; None: unlimited
        self.allowance = True
        self.holdings: dict[int, Decimal] = {}  # outcome shares held (what SELLs can sell)
        self.clock_offset = 0.0  # move the exchange's clock (GTD expiry)
        self.page_size = 2  # small pages, so readers must follow next_cursor
        self.cancel_log: list[tuple[float, str]] = []  # (monotonic time, order id) cancelled
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    def now(self) -> float:
        return time.time() + self.clock_offset

    def fail(self, method: str, path: str, status: int, times: int = 1_000_000) -> Fault:
        body = RATE_LIMITED if status == 429 else {"error": "service unavailable"}
        fault = Fault(method, path, status, times, body)
        self.faults.append(fault)
        return fault

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
        r.add_get("/data/trades", self.get_trades)
        r.add_delete("/orders", self.cancel_orders)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
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
        if self.delay:
            await asyncio.sleep(self.delay)
        for route, seconds in list(self.path_delays.items()):
            if request.path == route or (route.endswith("/") and request.path.startswith(route)):
                self.pending[route] = self.pending.get(route, 0) + 1
                try:
                    await asyncio.sleep(seconds)
                finally:
                    self.pending[route] -= 1
                self.answered[route] = self.answered.get(route, 0) + 1
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and request.path.startswith(fault.path)
            ):
                fault.times -= 1
                headers = {"Retry-After": "1"} if fault.status == 429 else None
                return web.json_response(fault.body, status=fault.status, headers=headers)
        self._expire()
        response: web.StreamResponse = await handler(request)
        if request.path in self.response_delays:
            await asyncio.sleep(self.response_delays[request.path])
        return response

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
            return self._reject(400, "the order owner has to be the owner of the API KEY")
        token = int(order["tokenId"])
        market = self.markets.get(token)
        if market is None:
            return self._reject(400, "unknown token")
        exchange, version = self.exchange_for(token, market)
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
        if payload["orderType"] == "GTD" and expiration <= self.now():
            return self._reject(400, "invalid expiration")
        maker, taker = Decimal(order["makerAmount"]), Decimal(order["takerAmount"])
        side = order["side"]
        shares, usdc = (taker, maker) if side == "BUY" else (maker, taker)
        price = usdc / shares
        size = shares / 10**6
        if price % market.tick != 0:
            return self._reject(400, f"price {price} not on tick {market.tick}")
        if order_id in self.orders:
            return self._reject(
                400,
                f"order {order_id} is invalid. Duplicated. Same order has already been placed, "
                "can't be placed again",
            )
        if size < market.min_size:
            return self._reject(
                400,
                f"order {order_id} is invalid. Size ({size.normalize():f}) lower than the minimum: "
                f"{market.min_size.normalize():f}",
            )
        if side == "BUY":
            level, depth = market.asks.get(token), market.ask_sizes.get(token)
            crosses = level is not None and level <= price
        else:
            level, depth = market.bids.get(token), market.bid_sizes.get(token)
            crosses = level is not None and level >= price
        amount = price * size
        if side == "BUY" and crosses and amount < MIN_MARKETABLE_BUY_USDC:
            return self._reject(
                400,
                f"invalid amount for a marketable BUY order (${amount.normalize():f}), "
                f"min size: ${MIN_MARKETABLE_BUY_USDC}",
            )
        if not self._affordable(side, token, price, size):
            return self._reject(400, "not enough balance / allowance")
        matched = Decimal(0)
        unmatched, self.unmatched_next = self.unmatched_next, False
        if crosses and not unmatched:
            matched = size if depth is None else min(size, depth)
            if depth is not None:
                (market.ask_sizes if side == "BUY" else market.bid_sizes)[token] = depth - matched
        placed: dict[str, Any] = {
            "order": order,
            "price": price,
            "shares": size,
            "matched": Decimal(0),
            "status": "UNMATCHED" if unmatched else "LIVE",
            "condition_id": market.condition_id,
            "owner": creds.key,
            "maker_address": creds.address,
            "order_type": payload["orderType"],
            "expiration": expiration,
            "trades": [],
        }
        self.orders[order_id] = placed
        lots = (market.ask_lots if side == "BUY" else market.bid_lots).get(token)
        trade_ids = [self._trade(order_id, q, taker=True) for q in self._split(matched, lots)]
        if self.lose_next_response:
            self.lose_next_response = False
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        gross = (matched * price).quantize(Decimal("0.000001"))
        making, taking = (gross, matched) if side == "BUY" else (matched, gross)
        status = "unmatched" if unmatched else "matched" if matched > 0 else "live"
        return web.json_response(
            {
                "success": True,
                "errorMsg": "",
                "orderID": order_id,
                "status": status,
                "makingAmount": str(making) if matched > 0 else "0",
                "takingAmount": str(taking) if matched > 0 else "0",
                "transactionsHashes": ["0x" + secrets.token_hex(32)] if matched > 0 else [],
                "tradeIDs": trade_ids,
            }
        )

    def _reserved(self, side: str, token: int | None) -> Decimal:
        total = Decimal(0)
        for placed in self.orders.values():
            o = placed["order"]
            if placed["status"] != "LIVE" or o["side"] != side:
                continue
            if token is not None and int(o["tokenId"]) != token:
                continue
            rest = placed["shares"] - placed["matched"]
            total += rest * placed["price"] if side == "BUY" else rest
        return total

    def _affordable(self, side: str, token: int, price: Decimal, size: Decimal) -> bool:
        if not self.allowance:
            return False
        if side == "BUY":
            if self.collateral is None:
                return True
            return self._reserved("BUY", None) + price * size <= self.collateral
        return self._reserved("SELL", token) + size <= self.holdings.get(token, Decimal(0))

    @staticmethod
    def _split(matched: Decimal, lots: list[Decimal] | None) -> list[Decimal]:
        """The match's pieces, one per maker order it takes (consumed from ``lots``)."""
        if matched <= 0:
            return []
        if not lots:
            return [matched]
        pieces: list[Decimal] = []
        while matched > 0 and lots:
            take = min(matched, lots[0])
            pieces.append(take)
            matched -= take
            lots[0] -= take
            if lots[0] <= 0:
                lots.pop(0)
        if matched > 0:
            pieces.append(matched)
        return pieces

    def _trade(self, order_id: str, shares: Decimal, *, taker: bool) -> str:
        """Record a fill of our order: as the taker at placement, or as a resting maker."""
        placed = self.orders[order_id]
        o = placed["order"]
        token, side, price = int(o["tokenId"]), o["side"], placed["price"]
        placed["matched"] += shares
        if placed["matched"] >= placed["shares"]:
            placed["status"] = "MATCHED"
        usdc = shares * price
        if side == "BUY":
            self.holdings[token] = self.holdings.get(token, Decimal(0)) + shares
            if self.collateral is not None:
                self.collateral -= usdc
        else:
            self.holdings[token] = self.holdings.get(token, Decimal(0)) - shares
            if self.collateral is not None:
                self.collateral += usdc
        trade_id = f"trade-{next(self._ids)}-{secrets.token_hex(4)}"
        other_side = "SELL" if side == "BUY" else "BUY"
        market = self.markets[token]
        ours = {
            "order_id": order_id,
            "asset_id": str(token),
            "maker_address": placed["maker_address"],
            "owner": placed["owner"],
            "side": side,
            "price": str(price),
            "matched_amount": str(shares),
            "outcome": "Yes",
            "fee_rate_bps": "0",
        }
        theirs = {
            **ours,
            "order_id": "0x" + secrets.token_hex(32),
            "maker_address": "0x" + "0b" * 20,
            "owner": "someone-else",
            "side": other_side,
        }
        now = int(self.now())
        self.trades.append(
            {
                "id": trade_id,
                "taker_order_id": order_id if taker else "0x" + secrets.token_hex(32),
                "market": market.condition_id,
                "asset_id": str(token),
                "side": side if taker else other_side,
                "size": str(shares),
                "fee_rate_bps": "0",
                "price": str(price),
                "status": "TRADE_STATUS_MATCHED",
                "match_time": str(now),
                "last_update": str(now),
                "outcome": "Yes",
                "bucket_index": 0,
                "owner": placed["owner"] if taker else "someone-else",
                "maker_address": placed["maker_address"] if taker else "0x" + "0b" * 20,
                "transaction_hash": "0x" + secrets.token_hex(32),
                "maker_orders": [theirs] if taker else [ours],
                "trader_side": "TAKER" if taker else "MAKER",
                "_owners": {placed["owner"]},
                "_moved": (token, side, shares, usdc),
            }
        )
        placed["trades"].append(trade_id)
        return trade_id

    def trade(self, trade_id: str) -> dict[str, Any]:
        return next(t for t in self.trades if t["id"] == trade_id)

    def settle(self, trade_id: str, status: str) -> None:
        """Move a trade on in its on-chain settlement: MINED, CONFIRMED, RETRYING or FAILED."""
        assert status in ("MATCHED", "MINED", "CONFIRMED", "RETRYING", "FAILED"), status
        t = self.trade(trade_id)
        previous = t["status"].removeprefix("TRADE_STATUS_")
        assert previous not in ("CONFIRMED", "FAILED"), f"{trade_id} is final: {previous}"
        t["status"] = "TRADE_STATUS_" + status
        t["last_update"] = str(int(self.now()))
        if status == "RETRYING":
            t["transaction_hash"] = "0x" + secrets.token_hex(32)  # resubmitted
        if status == "FAILED":
            token, side, shares, usdc = t["_moved"]
            sign = -1 if side == "BUY" else 1
            self.holdings[token] = self.holdings.get(token, Decimal(0)) + sign * shares
            if self.collateral is not None:
                self.collateral -= sign * usdc

    def report(self, order_id: str, status: str) -> None:
        """The order endpoint shows the order with this status from now on (``UNMATCHED``: a
        marketable order whose matching delay failed)."""
        self.orders[order_id]["status"] = status

    def fill(self, order_id: str, shares: Decimal | None = None) -> str:
        """A counterparty takes (part of) our resting order: a MAKER fill, in /data/trades."""
        placed = self.orders[order_id]
        assert placed["status"] in ("LIVE", "UNMATCHED"), placed["status"]
        rest = placed["shares"] - placed["matched"]
        return self._trade(order_id, rest if shares is None else min(shares, rest), taker=False)

    def _expire(self) -> None:
        now = self.now()
        for placed in self.orders.values():
            if (
                placed["status"] == "LIVE"
                and placed["order_type"] == "GTD"
                and placed["expiration"] <= now
            ):
                placed["status"] = "EXPIRED"

    def live_orders(self) -> list[str]:
        self._expire()
        return [oid for oid, p in self.orders.items() if p["status"] == "LIVE"]

    async def get_order(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        found = self.orders.get(request.match_info["order_id"])
        if found is None or found["owner"] != creds.key:
            return self._reject(404, "order not found")
        gone = found["status"] == "MATCHED" or (self.forgetful and found["status"] != "LIVE")
        if gone:
            return web.json_response(None)  # what the real CLOB answers for a closed order
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
                "associate_trades": found["trades"],
                "created_at": int(int(o["timestamp"]) / 1000),
                "expiration": o["expiration"],
            }
        )

    async def get_trades(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        q = request.query
        after = int(q["after"]) if q.get("after", "").isdigit() else None
        mine = [
            {k: v for k, v in t.items() if not k.startswith("_")}
            for t in self.trades
            if creds.key in t["_owners"]
            and (after is None or int(t["match_time"]) >= after)
            and (not q.get("id") or t["id"] == q["id"])
        ]
        start = int(base64.b64decode(q["next_cursor"]).decode()) if q.get("next_cursor") else 0
        page = mine[start : start + self.page_size]
        end = start + len(page)
        cursor = "LTE=" if end >= len(mine) else base64.b64encode(str(end).encode()).decode()
        return web.json_response(
            {"data": page, "next_cursor": cursor, "limit": self.page_size, "count": len(page)}
        )

    async def cancel_orders(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        if creds is None:
            return self._reject(401, body)
        canceled, not_canceled = [], {}
        for order_id in json.loads(body):
            found = self.orders.get(order_id)
            if found is None or found["owner"] != creds.key:
                not_canceled[order_id] = "order not found"
                continue
            if found["status"] != "LIVE":
                not_canceled[order_id] = "order can't be canceled"
                continue
            found["status"] = "CANCELED"
            self.cancel_log.append((time.monotonic(), order_id))
            canceled.append(order_id)
        return web.json_response({"canceled": canceled, "not_canceled": not_canceled})
