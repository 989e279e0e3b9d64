"""The live broker's reading of the SDK's errors on a call it makes: our API key (or this
machine's access) refused — :class:`~orderflow.execution.broker.CredentialsRefusedError`, with
the exchange's words redacted of our credentials — or the exchange busy (anything else:
:class:`~orderflow.execution.broker.ExchangeBusyError`, with its Retry-After).
"""

from __future__ import annotations

from polymarket import PolymarketError, RateLimitError

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
