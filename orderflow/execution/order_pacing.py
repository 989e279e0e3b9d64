"""Orders paced by the signer's order bucket (:mod:`orderflow.execution.signer_pacing`).

Before an order goes out, :func:`hold_for_bucket` holds it while the bucket is known not to
admit it (the refill's time, at most :data:`~orderflow.execution.switch.MAX_RETRY_AFTER_SECS` at
a time): an entry is not sent to be refused 429 and lost. An entry whose wait would outlast its
signal's usefulness (``max_signal_age_secs`` from the leader's trade) is dropped at once with
the reason :data:`RATE_LIMITED` — not held only to go out stale, nor blocking the orders behind
it. An entry refused 429 all the same (a bucket not known yet, another client on the key) is sent
once more after the answer's ``Retry-After`` when it is still useful then and its guard lets it
(:func:`send_with_one_retry`); otherwise its refusal says why it was not tried again. An exit is
not retried here: a refused exit is tried again by the exit machinery (its doubling pause).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable

from orderflow.execution.broker import OrderOutcome
from orderflow.execution.signer_pacing import SignerPacing
from orderflow.execution.switch import retry_after_wait

log = logging.getLogger(__name__)
# The reason of an entry dropped unsent: the order bucket admits none while it is useful.
RATE_LIMITED = "rate_limited"
UsefulFor = Callable[[], float | None]  # seconds an order stays useful (None: no limit, an exit)


async def hold_for_bucket(pacing: SignerPacing | None, useful_for: UsefulFor) -> str | None:
    """Wait until the signer's order bucket admits an order; the reason not to send it instead
    when it would wait past its usefulness (None: send it)."""
    if pacing is None:
        return None
    while (wait := pacing.wait("order")) > 0:
        left = useful_for()
        if left is not None and wait > left:
            return (
                f"{RATE_LIMITED}: the signer's order bucket admits no order for {wait:.1f} s, "
                f"past the signal's use ({max(0.0, left):.1f} s left)"
            )
        wait = retry_after_wait(wait)
        log.info(
            "order held: the signer's order bucket is empty until it refills",
            extra={"wait_secs": round(wait, 3), "tier": pacing.tier},
        )
        await asyncio.sleep(wait)
        if wait >= retry_after_wait(float("inf")):
            break  # held as long as a Retry-After is: sent, the exchange answers for itself
    return None


def rate_limited(outcome: OrderOutcome) -> bool:
    """A refusal for a rate limit (429): nothing was placed."""
    return outcome.status == "REJECTED" and (outcome.reason or "").startswith("http 429")


async def send_with_one_retry(
    send: Callable[[], Awaitable[OrderOutcome]],
    *,
    entry: bool,
    useful_for: UsefulFor,
    guard: Callable[[], str | None] | None,
    pacing: SignerPacing | None,
) -> OrderOutcome:
    """Send; an entry refused 429 is sent once more (the same signed order: the exchange
    processed nothing) after the answer's ``Retry-After`` (or the bucket's refill) when it is
    still useful then and its guard lets it. Not tried again, its refusal says why."""
    outcome = await send()
    if not entry or not rate_limited(outcome):
        return outcome
    asked = outcome.retry_after
    wait = asked if asked is not None else pacing.wait("order") if pacing else 0.0
    left = useful_for()
    if wait > retry_after_wait(wait):  # sent after a wait cut short, refused again
        why = f"not tried again: its wait ({wait:.1f} s) is longer than an order is held"
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; {why}")
    if left is not None and wait > left:  # it would go out stale
        why = f"not tried again: its wait ({wait:.1f} s) is past the signal's use"
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; {why}")
    log.warning(
        "entry refused for the rate limit: sent once more after the wait",
        extra={"wait_secs": round(wait, 3)},
    )
    await asyncio.sleep(wait)
    refused = guard() if guard is not None else None
    if refused is not None:
        return dataclasses.replace(outcome, reason=f"{outcome.reason}; not tried again: {refused}")
    return await send()
