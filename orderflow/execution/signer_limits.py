"""The CLOB's per-signer trading rate limits, as its answers report them.

Since July 2026 the CLOB meters each signer's orders and cancellations in two token buckets
(docs.polymarket.com, "CLOB Trading Rate Limits"): an order or cancel answer carries
``Poly-RateLimit-Remaining`` (the tokens left in the bucket it drew from; below zero for tiers
whose cancel bucket may go into debt), ``-Reset`` and ``-Tier``, and, while the limiter runs in
warning mode, ``Poly-RateLimit-Warning: true`` on a request live enforcement would refuse — a
429 with ``Retry-After``, which the executor already waits out before the mode's next order
(:mod:`orderflow.execution.order_worker`). The SDK hands these headers to a listener; this one
makes them visible, so an operator learns that the executor's pattern would be refused before
enforcement does it to a kill's cancels:

* every warned request is counted (``orderflow_clob_rate_limit_warnings_total``), the first one
  logged as a WARNING, then at most one a minute with the count since;
* the last answer's tokens left are a gauge (``orderflow_clob_rate_limit_remaining``), and a
  change of tier is logged.

The same answers feed the executor's own pacing (:mod:`orderflow.execution.signer_pacing`):
each bucket's tokens left, its refill rate once a refusal taught it, the largest request it
holds — so a request the bucket cannot admit is held until it can instead of being refused.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from polymarket import RateLimitUpdate

from orderflow.execution.log_pace import LogPace
from orderflow.execution.signer_pacing import SignerPacing
from orderflow.telemetry import meter

log = logging.getLogger(__name__)
_warnings = meter("orderflow.execution").create_counter(
    "orderflow_clob_rate_limit_warnings",
    description="Order and cancel requests the CLOB's per-signer limiter, in warning mode, said "
    "it would refuse under enforcement (Poly-RateLimit-Warning: true)",
)
_remaining = meter("orderflow.execution").create_gauge(
    "orderflow_clob_rate_limit_remaining",
    description="Tokens left in the per-signer bucket the CLOB's last metered answer drew from "
    "(Poly-RateLimit-Remaining)",
)


class SignerLimits:
    """The SDK's ``on_rate_limit_update`` listener of one live broker (called on its loop)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        # the buckets' state the executor paces its orders and cancels by (the broker's)
        self.pacing = SignerPacing(monotonic)
        self.tier: str | None = None
        self._pace = LogPace(monotonic=monotonic)  # warned requests, in this process

    def __call__(self, update: RateLimitUpdate) -> None:
        self.pacing.seen(update)
        if update.remaining is not None:
            _remaining.set(update.remaining)
        if update.tier is not None and update.tier != self.tier:
            log.info(
                "the CLOB's per-signer rate limits apply tier %s",
                update.tier,
                extra={"tier": update.tier, "previous_tier": self.tier},
            )
            self.tier = update.tier
        if update.warning:
            self._warned(update)

    @property
    def warned(self) -> int:
        """Requests warned in this process."""
        return self._pace.failures

    def _warned(self, update: RateLimitUpdate) -> None:
        _warnings.add(1, {"tier": update.tier or "unknown"})
        unlogged = self._pace.failed()
        if unlogged is None:
            return
        log.warning(
            "the CLOB's rate limiter warns that %d order/cancel request(s) of this signer would "
            "be refused (429) under enforcement: fewer strategies or slower order churn on this "
            "key, or a higher tier, before Polymarket enforces it",
            unlogged,
            extra={
                "warned": unlogged,
                "tier": update.tier,
                "remaining": update.remaining,
                "reset": update.reset,
            },
        )
