"""The live broker's reading of the SDK's errors on a call it makes: our API key (or this
machine's access) refused — :class:`~orderflow.execution.broker.CredentialsRefusedError`, with
the exchange's words redacted of our credentials — or the exchange busy (anything else:
:class:`~orderflow.execution.broker.ExchangeBusyError`, with its Retry-After); and whether a
refusal says the exchange takes no order now (:func:`trading_restriction`).
"""

from __future__ import annotations

from polymarket import PolymarketError, RateLimitError, RequestRejectedError

from orderflow.execution.broker import CredentialsRefusedError, ExchangeBusyError
from orderflow.execution.live_reads import problem_of


def busy(what: str, exc: PolymarketError) -> ExchangeBusyError:
    # the SDK's RateLimitError (a 429) carries no status of its own
    status = 429 if isinstance(exc, RateLimitError) else getattr(exc, "status", None)
    detail = f"http {status}" if status is not None else type(exc).__name__
    retry_after = getattr(exc, "retry_after", None)  # a 429's (or 503's) Retry-After
    if status in (401, 403):  # our key (or access) refused: asking again will not heal it
        # with the exchange's words (``Unauthorized/Invalid api key``, or the SDK's "blocked by
        # Cloudflare": this machine's IP, not the key), redacted of our credentials (a gateway
        # may echo our headers: orderflow.execution.exchange_text)
        return CredentialsRefusedError(f"{what} failed: {detail}: {problem_of(exc, 200)}")
    return ExchangeBusyError(f"{what} failed: {detail}", retry_after=retry_after, status=status)


# The CLOB's answer while its matching engine restarts (weekly, about 90 s; the SDK's trading
# restriction "restarting"): "Do not treat this as a permanent error" (Polymarket's docs).
ENGINE_RESTARTING = 425
# Polymarket's 503 while the exchange is paused: "Trading is currently disabled. Check
# polymarket.com for updates" — "No orders (including cancels) are accepted"
# (docs.polymarket.com/resources/error-codes). The SDK names no restriction for it (it reads
# only ``cancel-only`` and the code ``post_only_mode`` out of a 503).
TRADING_DISABLED = "trading is currently disabled"


def trading_restriction(exc: RequestRejectedError) -> str | None:
    """The trading restriction a refusal states — the exchange takes no order now, whatever the
    order: ``restarting`` (425), ``cancel_only`` or ``post_only`` (the SDK's), ``disabled``
    (the exchange paused) — or None. Such a refusal placed nothing. ``disabled`` was taken for
    any 503, an order in doubt until its expiry (tests/execution/test_trading_disabled.py)."""
    if exc.restriction is not None:
        return exc.restriction
    if exc.status == ENGINE_RESTARTING:
        return "restarting"
    if exc.status == 503 and TRADING_DISABLED in str(exc).lower():
        return "disabled"
    return None
