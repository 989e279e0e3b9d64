"""The executor's own pacing under the CLOB's per-signer rate limits.

Polymarket meters each signer's orders and cancels in two token buckets (docs.polymarket.com,
"CLOB Trading Rate Limits": ``POST /order`` one order token, ``DELETE /orders`` one cancel token
per id, each bucket refilled continuously at its tier's rate up to its burst; under enforcement a
request the bucket cannot admit is refused 429, a batch all or nothing). Every order and cancel
answer says how many tokens are left (``Poly-RateLimit-Remaining``) and, refused, when enough
will be there (``Poly-RateLimit-Reset``, ``Retry-After``). :class:`SignerPacing` keeps that state
per bucket, from the answers only (no table of tiers: the tier's numbers are not in the answers,
and a change of tier forgets what was learned):

* the tokens left after the last answer, and when it came;
* the refill rate, learned from a refusal: ``cost - remaining`` tokens come in the seconds until
  its ``Reset`` (or ``Retry-After``);
* the largest request the bucket has shown it can hold (``remaining + cost`` of an admitted one),
  which sizes the cancels' batches (:mod:`orderflow.execution.cancels`).

From it, :meth:`SignerPacing.wait` says how long a request of ``cost`` tokens must be held before
the bucket can admit it: 0 when it holds enough (or nothing is known); the refill's time when the
rate is known; else :data:`PROBE_SECS` after the last answer, when one request goes out to learn
(admitted, or refused with the ``Reset`` that teaches the rate). A request is held rather than
sent to be refused.

The SDK's listener (:class:`~orderflow.execution.signer_limits.SignerLimits`) is told each
answer's headers without the request; the live broker names the bucket and cost of the call it
makes (:meth:`SignerPacing.drawing`), a context variable the listener's :meth:`SignerPacing.seen`
reads on the same task, and whether the call was refused 429.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from polymarket import PolymarketError, RateLimitError, RateLimitUpdate

Kind = Literal["order", "cancel"]
# After an answer showing the bucket short while its refill rate is not known yet: one request
# is let out this long after it, to learn (a refusal's Reset gives the rate).
PROBE_SECS = 1.0
# A refill's wait is lengthened by this share and these seconds: our clock reads an answer after
# the exchange's limiter wrote it, and a learned rate may be a little high.
WAIT_MARGIN = 0.05
WAIT_SLACK_SECS = 0.05


@dataclass(slots=True)
class _Drawing:
    """The order or cancel request the current task is making, and its answer's headers."""

    kind: Kind
    cost: float
    update: RateLimitUpdate | None = None


_DRAWING: ContextVar[_Drawing | None] = ContextVar("orderflow_drawing", default=None)


@dataclass(slots=True)
class Bucket:
    """What the answers told of one bucket."""

    remaining: float  # tokens left after the last answer
    at: float  # when it came (monotonic)
    rate: float | None = None  # tokens a second, once a refusal taught it
    ready_at: float | None = None  # a refusal's Reset (monotonic): the refused cost there then
    capacity: float = 0.0  # the largest request it was seen to hold (remaining + cost admitted)

    def tokens(self, now: float) -> float:
        """The tokens it holds now, as far as known (refilled at the learned rate)."""
        if self.rate is None:
            return self.remaining
        refilled = self.remaining + (now - self.at) * self.rate
        return refilled if self.capacity < 1 else min(refilled, self.capacity)  # never past it

    def wait(self, cost: float, now: float) -> float:
        """Seconds before a request of ``cost`` tokens can be admitted (0: now); one larger
        than the bucket was seen to hold waits for it full (it goes out split)."""
        if self.capacity >= 1:
            cost = min(cost, self.capacity)
        short = cost - self.tokens(now)
        if short <= 0:
            return 0.0
        if self.rate is not None and self.rate > 0:
            return short / self.rate * (1 + WAIT_MARGIN) + WAIT_SLACK_SECS
        if self.ready_at is not None and self.ready_at > now:
            return self.ready_at - now + WAIT_SLACK_SECS
        return max(0.0, self.at + PROBE_SECS - now)  # not known when: one goes out to learn


class SignerPacing:
    """One signer's buckets, as its answers report them (one per live broker)."""

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self.buckets: dict[Kind, Bucket] = {}
        self.tier: str | None = None
        self.unmetered: set[Kind] = set()  # admitted without the limiter's headers

    @contextlib.contextmanager
    def drawing(self, kind: Kind, cost: float) -> Iterator[None]:
        """The order or cancel request made in the block draws ``cost`` tokens from the
        ``kind`` bucket: its answer's headers (:meth:`seen`) are read as that bucket's, a 429
        (the SDK's ``RateLimitError``) as its refusal."""
        drawn = _Drawing(kind, cost)
        token = _DRAWING.set(drawn)
        try:
            yield
        except RateLimitError as exc:
            self._answered(drawn, refused=True, retry_after=exc.retry_after)
            raise
        except PolymarketError:  # answered (admitted, then refused as such) or not answered
            if drawn.update is not None:
                self._answered(drawn, refused=False)
            raise
        else:
            self._answered(drawn, refused=False)
        finally:
            _DRAWING.reset(token)

    def seen(self, update: RateLimitUpdate) -> None:
        """The SDK's listener: an answer's headers, for the request the task is making."""
        drawn = _DRAWING.get()
        if drawn is not None:
            drawn.update = update
        if update.tier is not None and update.tier != self.tier:
            if self.tier is not None:
                self.buckets.clear()  # another tier: another rate and burst
            self.tier = update.tier

    def _answered(
        self, drawn: _Drawing, *, refused: bool, retry_after: float | None = None
    ) -> None:
        update, kind, now = drawn.update, drawn.kind, self._monotonic()
        if update is None or update.remaining is None:
            if not refused:  # admitted without the limiter's headers: not metered (now)
                self.unmetered.add(kind)
                self.buckets.pop(kind, None)
            elif retry_after is not None and kind in self.buckets:
                self.buckets[kind].ready_at = now + max(0.0, retry_after)
            return
        self.unmetered.discard(kind)
        known = self.buckets.get(kind)
        bucket = Bucket(update.remaining, now)
        if known is not None:
            bucket.rate, bucket.capacity = known.rate, known.capacity
        if refused:
            reset = update.reset
            secs = (reset - self._wall()) if reset is not None else retry_after
            self._learn_rate(bucket, drawn.cost, secs, now)
        else:
            bucket.capacity = max(bucket.capacity, update.remaining + drawn.cost)
        self.buckets[kind] = bucket

    @staticmethod
    def _learn_rate(bucket: Bucket, cost: float, secs: float | None, now: float) -> None:
        """A refusal: ``cost - remaining`` tokens come in ``secs`` (its Reset, or Retry-After).
        A refusal with neither (a request larger than the bucket's burst) teaches no rate."""
        if secs is None or secs <= 0:
            return
        bucket.ready_at = now + secs
        short = cost - bucket.remaining
        if short > 0:
            bucket.rate = short / secs

    def wait(self, kind: Kind, cost: float = 1.0) -> float:
        """Seconds before the ``kind`` bucket can admit ``cost`` tokens (0: now, or unknown)."""
        bucket = self.buckets.get(kind)
        return 0.0 if bucket is None else bucket.wait(cost, self._monotonic())

    def admits_now(self, kind: Kind) -> int | None:
        """How many tokens' worth it admits now (None: not known)."""
        bucket = self.buckets.get(kind)
        if bucket is None:
            return None
        return max(0, math.floor(bucket.tokens(self._monotonic()) + 1e-9))

    def capacity(self, kind: Kind) -> int | None:
        """The largest request the bucket was seen to hold (None: not seen)."""
        bucket = self.buckets.get(kind)
        if bucket is None or bucket.capacity < 1:
            return None
        return math.floor(bucket.capacity + 1e-9)


def pacing_of(broker: object) -> SignerPacing | None:
    """A broker's signer pacing: the live broker's (or the one a delegating broker logged in
    with); None for paper, or before a log-in."""
    pacing = getattr(broker, "pacing", None)
    return pacing if isinstance(pacing, SignerPacing) else None
