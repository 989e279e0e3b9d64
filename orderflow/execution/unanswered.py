"""Whether the exchange did not answer a request, as opposed to refusing it.

One reading for the live broker's log-in (:mod:`~orderflow.execution.live_connect`: asking
again later may pass, so the executor starts without the CLOB) and its reads of a market's
rules (:mod:`~orderflow.execution.live_rules`: no token's read is tried for a while): no
connection, a timeout, a 5xx, 408 (request timeout), 425 (its matching engine restarting,
"do not treat this as a permanent error") or 429 (rate limited). Any other 4xx is an answer
about that request; any other exception is not the exchange's.
"""

from __future__ import annotations

from polymarket.errors import (
    ConnectionLostError,
    RateLimitError,
    RequestRejectedError,
    TransportError,
)
from polymarket.errors import TimeoutError as SdkTimeoutError

# 4xx answers that say the exchange could not take the request now, not that it was wrong.
BUSY_STATUSES = frozenset({408, 425, 429})


def exchange_unanswered(exc: BaseException) -> bool:
    """The exchange did not answer ``exc``'s request (or was too busy to): ask again later."""
    if isinstance(exc, RequestRejectedError):
        return exc.status is None or exc.status >= 500 or exc.status in BUSY_STATUSES
    return isinstance(
        exc, TransportError | SdkTimeoutError | RateLimitError | ConnectionLostError | TimeoutError
    )
