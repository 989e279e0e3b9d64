"""What a backfill does when eth_getLogs refuses a range or fails in a wording nobody recognises.

A refusal ("query returned more than …", -32005, size limits, a timeout) halves the range, or
takes the size the provider stated; one at the minimum ends the session, to be retried after
the listener's backoff. An unrecognised error is tried again a few times with a backoff, then
halves the range as a refusal does (an unknown wording of one: until 6 Dec 2026 the session
ended and the next one read the same range, for ever); one block that keeps failing so ends the
session naming it.
"""

from __future__ import annotations

import asyncio
import logging

from orderflow.chain.adaptive_range import AdaptiveRange
from orderflow.chain.backfill_report import BackfillReport
from orderflow.chain.listener_metrics import IngestMetrics
from orderflow.chain.provider_errors import UnrecognisedGetLogsError
from orderflow.errors import RangeTooLargeError, RetryableRpcError

log = logging.getLogger(__name__)

UNRECOGNISED_TRIES = 3  # an eth_getLogs error nobody recognises: tries of a range, then halved
UNRECOGNISED_BACKOFF_SECS = 0.2  # before the second try, doubling


class RangeRefusals:
    """The range size's answer to a backfill's failed reads (one per backfill)."""

    def __init__(self, ranges: AdaptiveRange, metrics: IngestMetrics | None) -> None:
        self.ranges = ranges
        self.metrics = metrics
        self._failures = 0  # of the range being read, in a wording nobody recognises

    def forget(self) -> None:
        """A range was read, or a run starts: no failure of the next range counted yet."""
        self._failures = 0

    def _shrunk(self, report: BackfillReport) -> None:
        report.shrinks += 1
        if self.metrics:
            self.metrics.range_shrinks.add(1)

    def refused(self, exc: RangeTooLargeError, start: int, report: BackfillReport) -> None:
        """The range starting at ``start`` was refused: shrink it (to the size the provider
        stated, if it did). Never fatal: a hanging or overloaded provider recovers, so a
        refusal at the minimum ends the session and the listener reconnects after its backoff,
        for ever, saying why."""
        self._shrunk(report)
        stated = getattr(exc, "max_blocks", None)
        if not self.ranges.shrink(stated, cap=getattr(exc, "cap_blocks", None)):
            raise RetryableRpcError(
                f"{exc}; the range is already at GETLOGS_MIN_BLOCKS="
                f"{self.ranges.min_size}: backing off and retrying (if this "
                "repeats, the node is down or its eth_getLogs limits are too small)"
            ) from None
        log.info(
            "eth_getLogs range refused, shrinking",
            extra={"from_block": start, "blocks": self.ranges.size, "reason": str(exc)},
        )

    async def unrecognised(
        self, exc: UnrecognisedGetLogsError, start: int, end: int, report: BackfillReport
    ) -> None:
        """[start, end] failed with an eth_getLogs error nobody recognises: back off and try it
        again, up to :data:`UNRECOGNISED_TRIES` times in a row, then halve it, as after a
        refusal. A range that cannot be halved (one block, or ``GETLOGS_MIN_BLOCKS``) ends the
        session naming its blocks."""
        self._failures += 1
        failures = self._failures
        what = {"from_block": start, "to_block": end, "reason": str(exc)}
        if failures < UNRECOGNISED_TRIES:
            log.warning("eth_getLogs failed (an error not recognised): trying again", extra=what)
            await asyncio.sleep(UNRECOGNISED_BACKOFF_SECS * 2 ** (failures - 1))
            return
        self._failures = 0  # halved: new tries (and a session ended by it starts afresh)
        if self.ranges.narrow(end - start + 1):
            self._shrunk(report)
            log.warning(
                f"eth_getLogs failed {failures} times in a row (an error not recognised): "
                "halving the range, as after a refusal",
                extra={**what, "blocks": self.ranges.size},
            )
            return
        blocks = f"block {start}" if start == end else f"blocks {start}-{end}"
        why = (
            "one block cannot be narrowed"
            if start == end
            else f"the range is at GETLOGS_MIN_BLOCKS={self.ranges.min_size}"
        )
        message = (
            f"eth_getLogs of {blocks} failed {failures} times in a row ({exc}); {why}: "
            "backing off and retrying (if this repeats, the provider cannot serve "
            f"{blocks}: read it from another node)"
        )
        log.error(message, extra=what)
        raise RetryableRpcError(message) from None
