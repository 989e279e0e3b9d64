"""The CLOB's per-signer trading rate limits, for :class:`tests.execution.fake_clob.FakeClob`.

Written from docs.polymarket.com "CLOB Trading Rate Limits" (warning mode from 24 July 2026):
each signer (the request's ``POLY_ADDRESS``) has an *order* bucket (``POST /order``: 1 token)
and a *cancel* bucket (``DELETE /orders``: one token per order id sent), refilled continuously
at the tier's rate up to its burst. Every order or cancel request the limiter evaluates is
answered with ``Poly-RateLimit-Remaining`` (the bucket's tokens after it), ``-Reset`` (a Unix
time: when enough tokens will be there for the request, now for one admitted) and ``-Tier``.
In *warning* mode a request over the bucket is processed all the same, with
``Poly-RateLimit-Warning: true``; under *enforcement* it is refused unprocessed, 429 with
``Retry-After`` (the seconds until enough tokens), a batch all or nothing — one costing more
than the bucket's burst with no ``Retry-After``: it can never be admitted, and must be split.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

from aiohttp import web

from tests.execution.clob_faults import RATE_LIMITED

# The two metered routes and their bucket; a DELETE /orders costs the ids it names.
METERED = {("POST", "/order"): "order", ("DELETE", "/orders"): "cancel"}


@dataclass
class Bucket:
    burst: float
    rate: float  # tokens a second
    tokens: float = -1.0  # -1: full at its first use
    at: float = field(default_factory=time.monotonic)

    def refill(self) -> float:
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        return self.tokens

    def wait(self, cost: float) -> float:
        """Seconds until ``cost`` tokens are there (0: now)."""
        short = cost - self.tokens
        return 0.0 if short <= 0 else short / self.rate


@dataclass
class SignerLimits:
    order: tuple[float, float]  # (burst, tokens a second)
    cancel: tuple[float, float]
    tier: str = "standard"
    enforce: bool = False
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    warned: int = 0  # requests answered with the warning (processed)
    refused: int = 0  # requests refused 429 under enforcement
    refused_costs: list[float] = field(default_factory=list)  # their token costs

    def bucket(self, signer: str, kind: str) -> Bucket:
        key = (signer.lower(), kind)
        if key not in self.buckets:
            burst, rate = self.order if kind == "order" else self.cancel
            self.buckets[key] = Bucket(burst, rate)
        return self.buckets[key]


class ClobSignerLimits:
    """``signer_limits``: None (no limiter: no header, as before July 2026), or the limiter."""

    def __init__(self) -> None:
        super().__init__()
        self.signer_limits: SignerLimits | None = None

    async def metered(self, request: web.Request) -> tuple[dict[str, str], web.Response | None]:
        """The limiter's headers for this request, and its 429 when enforcement refuses it."""
        limits = self.signer_limits
        kind = METERED.get((request.method, request.path))
        if limits is None or kind is None:
            return {}, None
        cost = 1.0
        if kind == "cancel":
            try:
                cost = float(max(1, len(json.loads(await request.text()))))
            except (ValueError, TypeError):
                cost = 1.0
        bucket = limits.bucket(request.headers.get("POLY_ADDRESS", ""), kind)
        bucket.refill()
        wait = bucket.wait(cost)
        headers = {"Poly-RateLimit-Tier": limits.tier}
        if wait > 0 and limits.enforce:
            limits.refused += 1
            limits.refused_costs.append(cost)
            headers["Poly-RateLimit-Remaining"] = f"{bucket.tokens:.3f}"
            if cost <= bucket.burst:  # a request the bucket can never hold: split it, no wait
                headers["Poly-RateLimit-Reset"] = f"{time.time() + wait:.3f}"
                headers["Retry-After"] = str(math.ceil(wait))
            return headers, web.json_response(RATE_LIMITED, status=429, headers=headers)
        if wait > 0:
            limits.warned += 1
            headers["Poly-RateLimit-Warning"] = "true"
        bucket.tokens = max(0.0, bucket.tokens - cost)  # warning mode: processed, the bucket empty
        headers["Poly-RateLimit-Remaining"] = f"{bucket.tokens:.3f}"
        headers["Poly-RateLimit-Reset"] = f"{time.time() + wait:.3f}"
        return headers, None
