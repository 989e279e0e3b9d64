"""The CLOB stand-in's variations: the knobs a test turns to make ``fake_clob.FakeClob`` a
slow, failing, forgetful or hostile exchange, and the slowness it serves (``slowed``,
``answered_late``). Where a knob is read: the routes of :mod:`tests.execution.fake_clob` and
:mod:`tests.execution.clob_account`, the injected failures of :mod:`tests.execution.clob_faults`,
the signer's buckets of :mod:`tests.execution.clob_signer_limits`.

Variations: ``delay`` (a slow exchange, seconds before each answer), ``path_delays`` (slow routes),
``response_delays`` (the request is processed at once, its answer arrives late), ``faults`` (the
next answers of a route are 503/429/… without processing, a ``Retry-After`` with them when asked:
:meth:`FakeClob.fail`), ``rate_limits`` (a route answers 429 until its ``Retry-After`` has passed:
:meth:`FakeClob.rate_limit`), ``signer_limits`` (the per-signer order and cancel buckets of July
2026, their ``Poly-RateLimit-*`` headers, warning or enforcing:
:mod:`tests.execution.clob_signer_limits`), ``lose_next_response`` (the next order is accepted and
the connection dropped without an answer), ``answer_next_order`` (the next order is accepted —
matched, resting — and answered with this error status all the same: a gateway's 502 or 504 whose
upstream took the order, a 500 after the insert), ``gateway_resends_next`` (the next order is
accepted, its answer lost on the way and the POST sent again by a gateway in between: the
answer the client gets is the second's, HTTP 400 ``order … is invalid. Duplicated. Same order
has already been placed, can't be placed again`` — Polymarket's ``INVALID_ORDER_DUPLICATED``),
``done_as_404`` (an order that is no longer open
— matched, cancelled, expired — answered 404 ``order not found`` by ``GET /data/order/{id}``
instead of nothing), ``forgetful`` (every order that is not live is gone from ``GET
/data/order/{id}``, cancelled and expired ones too, and a done one — matched, cancelled, expired —
is answered ``order can't be found - already canceled or matched`` by ``DELETE /orders``, as an
order the exchange never held; an ``UNMATCHED`` one is still held: ``order can't be canceled``),
``shows_matched`` (a fully matched order is shown ``MATCHED`` by ``GET /data/order/{id}`` instead
of nothing: the order statuses the exchange's user channel sends include ``MATCHED``), ``unlisted``
(trade ids ``GET /data/trades`` does not list yet: the account's listing lagging the match),
``repeated`` (trade ids it lists twice in an answer: its cursor is an offset, and a trade matched
while the pages are read pushes the rest down a place, so the next page repeats one),
``revoke_keys`` (every L2 request answered 401), ``geoblock`` (``"blocked"``: every ``POST /order``
answered 403 ``Trading restricted in your region…`` before its auth is read, as the real CLOB
answers an order from a region it does not serve; ``"close_only"``: only orders that buy, as in its
close-only countries).

Hostile answers, at the wire: ``book_patch`` (fields put into every ``GET /book`` answer: a
tick that is no CLOB tick, an absurd minimum), ``placement_patch`` (fields put into the next
accepted ``POST /order`` answers: amounts the order cannot have made), ``endless_trades``
(``GET /data/trades`` never ends: each page names a new cursor), ``trade_patches`` (fields put
into one trade, by id, wherever ``GET /data/trades`` answers it: a trade that does not parse),
``order_patch`` (fields put into every ``GET /data/order/{id}`` answer that shows an order),
``balance_patch`` (fields put into every ``GET /balance-allowance`` answer), ``cancel_reasons``
(an order the exchange closed on its own shown with the status naming why: ``shown_status``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web


class ClobVariations:
    """Mixed into the stand-in (``FakeClob``): every variation off until a test sets it."""

    unbacked: set[str]  # the exchange model's: orders the validity monitor cancelled

    def __init__(self) -> None:
        super().__init__()
        self.lose_next_response = False
        self.answer_next_order: int | None = None
        self.gateway_resends_next = False
        self.done_as_404 = False
        self.shows_matched = False
        self.unlisted: set[str] = set()  # trade ids GET /data/trades does not list yet
        self.repeated: set[str] = set()  # trade ids GET /data/trades lists twice
        self.geoblock: str | None = None  # "blocked" or "close_only" (module docstring)
        self.delay = 0.0
        # Slow routes: a path ending in "/" delays every path under it, else that exact path.
        self.path_delays: dict[str, float] = {}
        # Slow answers: the request is processed at once, its answer held this long (a path).
        self.response_delays: dict[str, float] = {}
        self.pending: dict[str, int] = {}  # requests of a slow route being held right now
        self.answered: dict[str, int] = {}  # requests of a slow route answered so far
        self.book_patch: dict[str, Any] = {}
        self.placement_patch: dict[str, Any] = {}
        self.endless_trades = False
        self.trade_patches: dict[str, dict[str, Any]] = {}
        self.order_patch: dict[str, Any] = {}
        self.balance_patch: dict[str, Any] = {}
        self.cancel_reasons = False  # a done order shown with its reason's status (below)

    def shown_status(self, order_id: str, status: str) -> str:
        """The status ``GET /data/order/{id}`` shows for an order of this status: with
        ``cancel_reasons``, an order the exchange closed on its own is shown with the status
        naming why — ``CANCELED_EXPIRED_ORDER`` (a GTD order past its expiration),
        ``CANCELED_NOT_ENOUGH_BALANCE`` (the validity monitor) — as the official SDK's order
        statuses name them (polymarket-client 0.14.0, ``KnownUserOrderStatus``: also
        ``CANCELED_MARKET_NOT_FOUND``, ``CANCELED_ORDER_TIMED_OUT``; "additional statuses are
        preserved as plain strings")."""
        if not self.cancel_reasons:
            return status
        if status == "EXPIRED":
            return "CANCELED_EXPIRED_ORDER"
        if status == "CANCELED" and order_id in self.unbacked:
            return "CANCELED_NOT_ENOUGH_BALANCE"
        return status

    async def slowed(self, request: web.Request) -> None:
        """Before the request is processed: ``delay``, then its route's ``path_delays``."""
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

    async def answered_late(self, request: web.Request) -> None:
        """After the request was processed: its path's ``response_delays`` before the answer."""
        if request.path in self.response_delays:
            await asyncio.sleep(self.response_delays[request.path])
