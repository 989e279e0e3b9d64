"""Orders paced by the signer's order bucket (:mod:`orderflow.execution.signer_pacing`).

Before an order goes out, :func:`hold_for_bucket` holds it while the bucket is known not to
admit it (the refill's time, at most :data:`~orderflow.execution.switch.MAX_RETRY_AFTER_SECS` at
a time): an entry is not sent to be refused 429 and lost. An entry whose wait would outlast its
signal's usefulness (``max_signal_age_secs`` from the leader's trade) is dropped at once with
the reason :data:`RATE_LIMITED` — not held only to go out stale, nor blocking the orders behind
it. An order refused 429 all the same (a bucket not known yet, another client on the key) is sent
again after the answer's ``Retry-After`` while its guard lets it (:func:`send_with_retries`): an
entry once, when it is still useful then; an exit — a leader's sell, money at risk — up to
:data:`EXIT_RETRIES` times, each as soon as the bucket admits it (until 7 Dec 2026 it was not
retried here and waited for the exit machinery's pause and the next maintenance pass). Not
tried again, its refusal says why; an exit's is then tried again by the exit machinery.
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
# An exit refused 429 is sent again up to this many times (an entry once), each after its wait:
# a leader's sell goes out as soon as the bucket admits it; a limit outlasting these tries ends
# in the refusal, tried again by the exit machinery, and the worker is not held on one exit.
EXIT_RETRIES = 3
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


async def send_with_retries(
    send: Callable[[], Awaitable[OrderOutcome]],
    *,
    entry: bool,
    useful_for: UsefulFor,
    guard: Callable[[], str | None] | None,
    pacing: SignerPacing | None,
) -> OrderOutcome:
    """Send; one refused 429 is sent again (the same signed order: the exchange processed
    nothing) after the answer's ``Retry-After`` (or the bucket's refill) while its guard lets
    it: an entry once, when still useful then; an exit up to :data:`EXIT_RETRIES` times, each
    as soon as the bucket admits it. Not tried again, its refusal says why."""
    outcome = await send()
    for _ in range(1 if entry else EXIT_RETRIES):
        if not rate_limited(outcome):
            return outcome
        why = _no_retry(outcome, useful_for, pacing)
        if why is None:
            why = await _after_wait(outcome, pacing, guard, entry)
        if why is not None:
            return dataclasses.replace(outcome, reason=f"{outcome.reason}; not tried again: {why}")
        outcome = await send()
    return outcome


def _wait_of(outcome: OrderOutcome, pacing: SignerPacing | None) -> float:
    asked = outcome.retry_after
    return asked if asked is not None else pacing.wait("order") if pacing else 0.0


def _no_retry(
    outcome: OrderOutcome, useful_for: UsefulFor, pacing: SignerPacing | None
) -> str | None:
    """Why a 429 is not sent again after its wait (None: it is)."""
    wait = _wait_of(outcome, pacing)
    if wait > retry_after_wait(wait):  # sent after a wait cut short, refused again
        return f"its wait ({wait:.1f} s) is longer than an order is held"
    left = useful_for()
    if left is not None and wait > left:  # it would go out stale
        return f"its wait ({wait:.1f} s) is past the signal's use"
    return None


async def _after_wait(
    outcome: OrderOutcome,
    pacing: SignerPacing | None,
    guard: Callable[[], str | None] | None,
    entry: bool,
) -> str | None:
    """Wait out the 429; the guard's reason not to send it after all (None: send)."""
    wait = _wait_of(outcome, pacing)
    log.warning(
        "%s refused for the rate limit: sent again after the wait",
        "entry" if entry else "exit",
        extra={"wait_secs": round(wait, 3)},
    )
    await asyncio.sleep(wait)
    return guard() if guard is not None else None
