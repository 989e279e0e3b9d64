"""The failures a test injects into :class:`tests.execution.fake_clob.FakeClob`'s answers, before
a request is processed: a route's next answers replaced by an error status (:meth:`ClobFaults.fail`,
with a ``Retry-After`` when asked: the real CLOB's bodies for 401 and 429), a route rate
limited for some seconds from its first request on (:meth:`ClobFaults.rate_limit`: 429 with the
time left, whole seconds rounded up, until it has passed), and the exchange's trading state
(:attr:`ClobFaults.trading`, None — normal — by default), as Polymarket documents it:

* ``"restarting"``: the matching engine restarting (weekly, about 90 s): "the CLOB API returns
  HTTP 425 (Too Early) on all order-related endpoints" (docs.polymarket.com/trading/matching-engine)
  — here ``POST /order`` and ``DELETE /orders``;
* ``"cancel_only"``: ``POST /order`` answered 503 ``Trading is currently cancel-only. New orders
  are not accepted, but cancels are allowed.``; cancels pass (docs.polymarket.com/resources/
  error-codes);
* ``"disabled"``: 503 ``Trading is currently disabled. Check polymarket.com for updates`` — "No
  orders (including cancels) are accepted" (same page): ``POST /order`` and ``DELETE /orders``.

Each such request is refused unprocessed (counted in :attr:`ClobFaults.restricted`)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Fault:
    """The next ``times`` requests to ``method path*`` get ``status`` without being processed."""

    method: str
    path: str
    status: int
    times: int = 1_000_000
    body: dict[str, Any] = field(default_factory=lambda: {"error": "service unavailable"})
    retry_after: int | None = None  # the Retry-After header's seconds (a 429's: 1 unless given)
    cloudflare: bool = False  # answered by the exchange's edge: an HTML page, server cloudflare
    # Answered by a proxy or gateway that echoes the request's headers in its error text (the
    # API key, passphrase and signature among them), as plain text or in a JSON ``error``.
    echo: str | None = None  # "text" or "json"
    echoed: list[dict[str, str]] = field(default_factory=list)  # the headers it echoed
    # Answered by a gateway in plain text (``text/plain``: Go's "404 page not found", a load
    # balancer's "Not Found"), which the SDK reports word for word, as it does the CLOB's JSON
    # ``error`` (polymarket-client 0.14.0, ``_extract_response_error_message``).
    text: str | None = None


RATE_LIMITED = {"error": "Too Many Requests"}
# Polymarket's global errors (docs.polymarket.com/resources/error-codes), HTTP 503.
CANCEL_ONLY = (
    "Trading is currently cancel-only. New orders are not accepted, but cancels are allowed."
)
TRADING_DISABLED = "Trading is currently disabled. Check polymarket.com for updates"
# The trading states: the status, the body, and the order routes refused (method, path).
_ORDER_POST = ("POST", "/order")
_CANCEL = ("DELETE", "/orders")
TRADING_STATES: dict[str, tuple[int, dict[str, str], frozenset[tuple[str, str]]]] = {
    "restarting": (425, {"error": "Too Early"}, frozenset({_ORDER_POST, _CANCEL})),
    "cancel_only": (503, {"error": CANCEL_ONLY}, frozenset({_ORDER_POST})),
    "disabled": (503, {"error": TRADING_DISABLED}, frozenset({_ORDER_POST, _CANCEL})),
}
CLOUDFLARE_PAGE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
    "<h1>Sorry, you have been blocked</h1></body></html>"
)
# What the real CLOB answers with these statuses (401: a key it refuses on that route; users
# report POST /order refused so while reads and cancels pass, py-clob-client issues 187, 209).
_FAULT_BODIES: dict[int, dict[str, Any]] = {
    401: {"error": "Unauthorized/Invalid api key"},
    429: RATE_LIMITED,
}


@dataclass
class RateLimit:
    """``method path*`` is rate limited for ``seconds`` from its first request on: every request
    until then is answered 429 with the time left in ``Retry-After`` (whole seconds, rounded
    up), unprocessed — asking again sooner does not get through."""

    method: str
    path: str
    seconds: float
    until: float | None = None  # monotonic; set by the first request
    refused: int = 0


class ClobFaults:
    """Injected faults and rate limits, checked by the server's middleware for every request."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[Fault] = []
        self.rate_limits: list[RateLimit] = []
        self.trading: str | None = None  # a key of TRADING_STATES: the exchange's state
        self.restricted: list[tuple[str, str]] = []  # the requests its state refused

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        times: int = 1_000_000,
        retry_after: int | None = None,
        cloudflare: bool = False,
        echo: str | None = None,
        text: str | None = None,
    ) -> Fault:
        """The next ``times`` requests to ``method path*`` answered ``status`` unprocessed, with
        ``Retry-After: retry_after`` when given (a 429 always has one: 1 s by default); by the
        exchange's edge with ``cloudflare`` (its HTML page, as it blocks an IP: 403); by a
        gateway echoing the request's headers in its error text with ``echo`` ("text": a plain
        body ``Name: value`` per header; "json": ``{"error": ...}`` naming them ``name=value``);
        by a gateway's plain-text body with ``text``."""
        body = _FAULT_BODIES.get(status, {"error": "service unavailable"})
        if retry_after is None and status == 429:
            retry_after = 1
        fault = Fault(method, path, status, times, body, retry_after, cloudflare, echo, text=text)
        self.faults.append(fault)
        return fault

    def rate_limit(self, method: str, path: str, seconds: float) -> RateLimit:
        limit = RateLimit(method, path, seconds)
        self.rate_limits.append(limit)
        return limit

    def injected(self, request: web.Request) -> web.Response | None:
        """The answer a fault, a rate limit or the trading state gives ``request`` instead of
        processing it."""
        if self.trading is not None:
            status, body, routes = TRADING_STATES[self.trading]
            if (request.method, request.path) in routes:
                self.restricted.append((request.method, request.path))
                return web.json_response(body, status=status)
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == request.method
                and request.path.startswith(fault.path)
            ):
                fault.times -= 1
                after = fault.retry_after
                headers = {} if after is None else {"Retry-After": str(after)}
                if fault.echo is not None:
                    fault.echoed.append(dict(request.headers))
                    if fault.echo == "text":
                        lines = [f"{k}: {v}" for k, v in request.headers.items()]
                        text = "upstream refused the request\n" + "\n".join(lines)
                        return web.Response(text=text, status=fault.status, headers=headers)
                    pairs = " ".join(f"{k}={v}" for k, v in request.headers.items())
                    body = {"error": f"gateway refused [{pairs}]"}
                    return web.json_response(body, status=fault.status, headers=headers)
                if fault.text is not None:
                    return web.Response(text=fault.text, status=fault.status, headers=headers)
                if fault.cloudflare:
                    headers["Server"] = "cloudflare"
                    return web.Response(
                        text=CLOUDFLARE_PAGE,
                        status=fault.status,
                        content_type="text/html",
                        headers=headers,
                    )
                return web.json_response(fault.body, status=fault.status, headers=headers)
        for limit in self.rate_limits:
            if limit.method == request.method and request.path.startswith(limit.path):
                now = time.monotonic()
                limit.until = now + limit.seconds if limit.until is None else limit.until
                if now < limit.until:
                    limit.refused += 1
                    wait = str(max(1, math.ceil(limit.until - now)))
                    return web.json_response(
                        RATE_LIMITED, status=429, headers={"Retry-After": wait}
                    )
        return None
