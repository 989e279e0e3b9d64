"""A local stand-in for Polymarket's CLOB V2 REST API: the endpoints the SDK calls, checked.

It is written from the exchange's published rules (polymarket facts §6), independently of the
executor's code, so a test passing against it means the SDK-built requests are what the real CLOB
accepts. This module is the HTTP layer: routes, auth, the wire format; the failures a test
injects before a request is processed are :mod:`tests.execution.clob_faults`. Signatures are
checked by :mod:`tests.execution.clob_signing` (L1 ``ClobAuth``, L2 HMAC, the order's EIP-712
hash); what the exchange does with an order — matching, refusals, expiry,
trades and their settlement on chain — is :mod:`tests.execution.clob_exchange` and
:mod:`tests.execution.clob_events`, which :class:`FakeClob` extends (a test moves the exchange on
with ``clob.fill``, ``clob.settle``, ``clob.report``, ``clob.release``, ``clob.withdraw``,
``clob.move_shares``).

* ``POST /order``: the order's EIP-712 signature must recover to ``signer``; an EOA order
  (signature type 0) must have ``maker == signer``; ``owner`` = the API key. Its id is the order's
  EIP-712 hash. A refusal is HTTP 400 with the real CLOB's message, HTTP 429 when rate limited;
* ``GET /markets-by-token/{token}``, ``GET /clob-markets/{condition}``: the market's condition id,
  and its neg-risk flag, tokens, tick and taker fee schedule (``"fd": {"r", "e"}``, absent for a
  market without one: ``Market.fee``), as the SDK reads them to build an order;
* ``GET /book?token_id=``: the token's one-level book with the market's ``min_order_size`` and
  ``tick_size`` (``Market.min_size``, ``Market.tick``), as the real CLOB answers it; 404 ``No
  orderbook exists for the requested token id`` (docs.polymarket.com/resources/error-codes,
  GET book) for a token it does not know or a resolved market's;
* ``GET /data/order/{id}``: a fully matched order is gone (the real CLOB answers nothing,
  py-clob-client issue 217: "it will be in get_trades");
* ``GET /data/trades``: the account's trades, paginated (``page_size``, ``next_cursor``), by
  match time with ``after`` (from, inclusive) and ``before`` (until, exclusive);
* ``DELETE /orders``: cancels live orders, ``canceled`` / ``not_canceled`` as the CLOB answers;
* ``POST /v1/heartbeats``: the order heartbeat, the exchange's dead man's switch (its id chain,
  and every live order of the key cancelled once ``heartbeat_timeout`` passes without one:
  :mod:`tests.execution.clob_heartbeats`);
* ``GET /balance-allowance?asset_type=COLLATERAL&signature_type=``: the wallet's collateral
  ``balance`` and its ``allowances`` to the exchange contracts, in base units (6 decimals), as
  strings (the SDK's ``BalanceAllowance``): ``collateral`` as it stands now (fills and failed
  trades move it; a test sets it: a withdrawal, another program spending), its whole balance,
  not net of what our resting orders reserve; ``allowances`` (by exchange: the CTF exchange's,
  the neg-risk exchange's, ExchangeV3's) as they stand, absent: unlimited (2²⁵⁶ - 1);
  ``allowance`` False: every allowance 0;
  ``collateral`` None (unlimited): a balance of 10⁹ dollars;
* ``GET /balance-allowance?asset_type=CONDITIONAL&token_id=&signature_type=``: the wallet's
  balance of the token (``holdings``: what its buys delivered and its sells and
  ``clob.move_shares`` took, whole, not net of resting SELLs), 6 decimals as a string, and the
  exchanges' approval of its conditional tokens (2²⁵⁶ - 1, or 0 once
  ``clob.revoke_share_approval``); ``cached_shares``: a token's balance it reports from its
  cache instead, until ``GET /balance-allowance/update`` (the SDK's refresh) reads the chain.

The variations a test turns on (a slow, failing, forgetful or hostile exchange) are
:mod:`tests.execution.clob_variations`.
"""

from __future__ import annotations

import base64
import json
import secrets
from decimal import Decimal
from typing import Any

from aiohttp import web
from eth_account import Account

from tests.execution.clob_account import ClobAccount
from tests.execution.clob_events import ClobEvents
from tests.execution.clob_faults import ClobFaults
from tests.execution.clob_heartbeats import ClobHeartbeats
from tests.execution.clob_market import Rejected
from tests.execution.clob_signer_limits import ClobSignerLimits
from tests.execution.clob_signing import (
    Creds,
    exchange_for,
    l1_address,
    l2_creds,
    order_hash,
)
from tests.execution.clob_variations import ClobVariations
from tests.local_http import serve

# The real CLOB's answer to an order from a region it does not serve (HTTP 403).
GEOBLOCKED = (
    "Trading restricted in your region, please refer to available regions -"
    " https://docs.polymarket.com/developers/CLOB/geoblock"
)


class FakeClob(
    ClobVariations, ClobFaults, ClobSignerLimits, ClobHeartbeats, ClobAccount, ClobEvents
):
    """The exchange model served over HTTP on a local port (:meth:`start`)."""

    def __init__(self) -> None:
        super().__init__()
        self.creds: dict[str, Creds] = {}  # by address
        self.requests: list[tuple[str, str]] = []
        self.rejections: list[str] = []
        self.page_size = 2  # small pages, so readers must follow next_cursor
        self.balance_reads: list[str] = []  # GET /balance-allowance's asset types, in order
        # a token's balance the exchange reports from its cache until /balance-allowance/update
        self.cached_shares: dict[int, Decimal] = {}
        self.trade_pages = 0  # GET /data/trades pages answered
        self.url = ""
        self._runner: web.AppRunner | None = None

    def revoke_keys(self) -> None:
        """Every API key is revoked: each L2 request is answered 401 ``Unauthorized/Invalid api
        key``, as the real CLOB answers a key it does not know (put ``creds`` back to restore)."""
        self.creds.clear()

    # ------------------------------------------------------------------ server

    async def start(self) -> str:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_post("/auth/api-key", self.create_api_key)
        r.add_get("/auth/derive-api-key", self.derive_api_key)
        r.add_get("/auth/api-keys", self.api_keys)
        r.add_get("/markets-by-token/{token}", self.market_by_token)
        r.add_get("/clob-markets/{condition}", self.clob_market)
        r.add_get("/book", self.book)
        r.add_post("/order", self.post_order)
        r.add_get("/data/order/{order_id}", self.get_order)
        r.add_get("/data/trades", self.get_trades)
        r.add_delete("/orders", self.cancel_orders)
        r.add_get("/balance-allowance", self.balance_allowance)
        r.add_get("/balance-allowance/update", self.update_balance_allowance)
        r.add_post("/v1/heartbeats", self.order_heartbeat)
        self._runner, port = await serve(app, shutdown_timeout=0.5)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        await self.slowed(request)
        injected = self.injected(request)
        if injected is not None:
            return injected
        limit_headers, refused = await self.metered(request)
        if refused is not None:
            return refused
        self.expire()
        response: web.StreamResponse = await handler(request)
        response.headers.update(limit_headers)
        await self.answered_late(request)
        return response

    def _reject(self, status: int, message: str) -> web.Response:
        self.rejections.append(message)
        return web.json_response({"error": message}, status=status)

    # ------------------------------------------------------------------ auth

    async def create_api_key(self, request: web.Request) -> web.Response:
        address = l1_address(request.headers)
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
        address = l1_address(request.headers)
        if address is None or address.lower() not in self.creds:
            return self._reject(401, "invalid L1 signature")
        c = self.creds[address.lower()]
        return web.json_response({"apiKey": c.key, "secret": c.secret, "passphrase": c.passphrase})

    async def _l2(self, request: web.Request) -> tuple[Creds | None, str]:
        """The request's API key and its body, or None and what is wrong with its L2 headers."""
        body = await request.text()
        creds, problem = l2_creds(self.creds, request.headers, request.method, request.path, body)
        return (creds, body) if creds is not None else (None, problem)

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
        answer: dict[str, Any] = {
            "nr": market.neg_risk,
            "t": [{"t": str(t)} for t in market.tokens],
            "mts": float(market.tick),
        }
        if market.fee is not None:  # no "fd" at all for a market without a schedule
            answer["fd"] = {"r": float(market.fee[0]), "e": float(market.fee[1])}
        return web.json_response(answer)

    async def book(self, request: web.Request) -> web.Response:
        """``GET /book?token_id=``: the token's book as the real CLOB serialises it (decimals
        as strings, the timestamp in ms), with the market's ``min_order_size`` and
        ``tick_size`` — the one public read that states the market's minimum order size."""
        token = request.query.get("token_id", "")
        market = self.markets.get(int(token)) if token.isdigit() else None
        if market is None or market.resolved:  # a resolved market's book is gone
            return self._reject(404, "No orderbook exists for the requested token id")
        bid, ask = market.bids.get(int(token)), market.asks.get(int(token))
        bid_size = market.bid_sizes.get(int(token), Decimal(1000))
        ask_size = market.ask_sizes.get(int(token), Decimal(1000))
        return web.json_response(
            {
                "market": market.condition_id,
                "asset_id": token,
                "timestamp": str(int(self.now() * 1000)),
                "hash": secrets.token_hex(20),
                "bids": [] if bid is None else [{"price": str(bid), "size": str(bid_size)}],
                "asks": [] if ask is None else [{"price": str(ask), "size": str(ask_size)}],
                "min_order_size": str(market.min_size),
                "tick_size": str(market.tick),
                "neg_risk": market.neg_risk,
                "last_trade_price": "",
                **self.book_patch,
            }
        )

    # ------------------------------------------------------------------ orders

    async def post_order(self, request: web.Request) -> web.StreamResponse:
        if self.geoblock is not None:  # checked before the order's auth, as the real CLOB does
            side = json.loads(await request.text()).get("order", {}).get("side")
            if self.geoblock == "blocked" or side in ("BUY", 0, "0"):
                return self._reject(403, GEOBLOCKED)
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
        exchange, version = exchange_for(token, market.neg_risk)
        order_id, signable = order_hash(order, exchange, version)
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
        try:
            placed = self.place(
                order_id,
                order,
                payload["orderType"],
                owner=creds.key,
                maker_address=creds.address,
            )
        except Rejected as exc:
            return self._reject(400, str(exc))
        if self.gateway_resends_next:  # the answer lost in between, the POST sent again
            self.gateway_resends_next = False
            try:
                self.place(
                    order_id,
                    order,
                    payload["orderType"],
                    owner=creds.key,
                    maker_address=creds.address,
                )
            except Rejected as exc:  # the exchange holds it: "Duplicated"
                return self._reject(400, str(exc))
        if self.lose_next_response:
            self.lose_next_response = False
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if self.answer_next_order is not None:  # taken, but the answer is an error
            error, self.answer_next_order = self.answer_next_order, None
            return web.json_response({"error": "upstream request timeout"}, status=error)
        matched, price = placed.matched, placed.price
        gross = (matched * price).quantize(Decimal("0.000001"))
        making, taking = (gross, matched) if placed.side == "BUY" else (matched, gross)
        status = "unmatched" if placed.unmatched else "matched" if matched > 0 else "live"
        message = ""
        if placed.delayed:
            status, message = "delayed", self.delay_message
        return web.json_response(
            {
                "success": True,
                "errorMsg": message,
                "orderID": order_id,
                "status": status,
                "makingAmount": str(making) if matched > 0 else "0",
                "takingAmount": str(taking) if matched > 0 else "0",
                "transactionsHashes": ["0x" + secrets.token_hex(32)] if matched > 0 else [],
                "tradeIDs": placed.trade_ids,
                **self.placement_patch,
            }
        )

    async def get_order(self, request: web.Request) -> web.Response:
        creds, problem = await self._l2(request)
        if creds is None:
            return self._reject(401, problem)
        found = self.orders.get(request.match_info["order_id"])
        if found is None or found["owner"] != creds.key:
            return self._reject(404, "order not found")
        matched = found["status"] == "MATCHED" and not self.shows_matched
        gone = matched or (self.forgetful and found["status"] not in ("LIVE", "DELAYED"))
        if gone and self.done_as_404:
            return self._reject(404, "order not found")
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
                "status": self.shown_status(request.match_info["order_id"], found["status"]),
                "associate_trades": found["trades"],
                "created_at": int(int(o["timestamp"]) / 1000),
                "expiration": o["expiration"],
                **self.order_patch,
            }
        )

    async def cancel_orders(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        if creds is None:
            return self._reject(401, body)
        canceled, not_canceled = self.cancel(json.loads(body), creds.key)
        return web.json_response({"canceled": canceled, "not_canceled": not_canceled})
