"""The CLOB stand-in's order heartbeats: Polymarket's dead man's switch (``POST /v1/heartbeats``).

As the exchange documents it (and the SDK's ``send_order_heartbeat`` reads it): the first accepted
send registers the API key; each accepted send answers the id the next one must carry
(``{"heartbeat_id": …}``); a send with another id is refused HTTP 400 ``{"error_msg": "Invalid
Heartbeat ID", "heartbeat_id": <the id expected>}`` and refreshes nothing (the id expected is
empty while the key is not registered); once ``heartbeat_timeout`` seconds (the exchange's 10)
pass without an accepted send, every live order of the key is cancelled (not an ``UNMATCHED`` one,
which the stand-in's cancel cannot cancel either) and the registration
lapses (a later accepted send registers it again). There is no disarm.

The timeout runs on real (monotonic) time, not on the exchange's movable clock
(``clock_offset``, which tests move for GTD expiry): it is checked before every request and by
:meth:`live_orders`, as expiry is.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from aiohttp import web


class ClobHeartbeats:
    """Mixed into the stand-in (``FakeClob``), before the exchange model it cancels orders of."""

    orders: dict[str, dict[str, Any]]
    cancel_log: list[tuple[float, str]]

    def __init__(self) -> None:
        super().__init__()
        self.heartbeat_timeout = 10.0  # seconds without an accepted send before cancelling
        # by API key: (the id the next send must carry, when the registration lapses)
        self.heartbeat_chains: dict[str, tuple[str, float]] = {}
        self.heartbeats: list[tuple[str, str]] = []  # (API key, id sent) of every accepted send
        self.heartbeat_cancels: list[str] = []  # orders cancelled by a lapsed registration
        self.heartbeat_mismatches = 0  # sends refused for their id

    async def _l2(self, request: web.Request) -> tuple[Any, str]:
        raise NotImplementedError  # FakeClob's

    def _reject(self, status: int, message: str) -> web.Response:
        raise NotImplementedError  # FakeClob's

    async def order_heartbeat(self, request: web.Request) -> web.Response:
        creds, body = await self._l2(request)
        if creds is None:
            return self._reject(401, body)
        sent = json.loads(body or "{}").get("heartbeat_id", "")
        expected = self.heartbeat_chains.get(creds.key, ("", 0.0))[0]
        if sent != expected:
            self.heartbeat_mismatches += 1
            return web.json_response(
                {"error_msg": "Invalid Heartbeat ID", "heartbeat_id": expected}, status=400
            )
        next_id = secrets.token_hex(16)
        self.heartbeat_chains[creds.key] = (next_id, time.monotonic() + self.heartbeat_timeout)
        self.heartbeats.append((creds.key, sent))
        return web.json_response({"heartbeat_id": next_id})

    def expire(self) -> None:
        """GTD expiry (the exchange model's), then the lapsed registrations: every open order of
        their keys cancelled."""
        super().expire()  # type: ignore[misc]
        now = time.monotonic()
        for key, (_, lapses) in list(self.heartbeat_chains.items()):
            if lapses > now:
                continue
            del self.heartbeat_chains[key]
            for order_id, placed in self.orders.items():
                if placed["owner"] == key and placed["status"] == "LIVE":
                    placed["status"] = "CANCELED"
                    self.cancel_log.append((now, order_id))
                    self.heartbeat_cancels.append(order_id)
