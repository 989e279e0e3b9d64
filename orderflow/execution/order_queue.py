"""The order worker's queue: exits before entries.

An exit (a SELL: the leader left, money at risk) is taken before the entries queued ahead of
it — it does not wait for their turn at the signer's order bucket
(:mod:`orderflow.execution.order_pacing`). Among exits, and among entries, the order is the
order handed over. One rule keeps two orders of one position in their order: an exit does not
pass an order of the same strategy and token queued before it (the chain order the worker keeps:
that entry, decided on an earlier trade, goes first, and its guard drops it when the leader has
left since — ``leader_exited``).

The worker holds a job for the bucket after taking it; an exit queued meanwhile is taken first
when the bucket admits an order (:meth:`OrderQueue.passed`, :meth:`OrderQueue.put_back`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderflow.execution.order_worker import OrderJob


def reduces_risk(job: OrderJob) -> bool:
    """An order that takes risk off (an exit): it goes before the entries queued."""
    return job.decision.side == "SELL"


def _position(job: OrderJob) -> tuple[str, int]:
    return job.state.name, job.trade.token_id


def next_index(jobs: Sequence[OrderJob]) -> int:
    """The index of the job to take next: the first exit not behind an order of its own
    strategy and token, else the first job."""
    before: set[tuple[str, int]] = set()
    for i, job in enumerate(jobs):
        if reduces_risk(job) and _position(job) not in before:
            return i
        before.add(_position(job))
    return 0


class OrderQueue(asyncio.Queue["OrderJob"]):
    """An :class:`asyncio.Queue` of order jobs taken by :func:`next_index` (exits first)."""

    def _init(self, maxsize: int) -> None:
        self._jobs: list[OrderJob] = []

    def _put(self, item: OrderJob) -> None:
        self._jobs.append(item)

    def _get(self) -> OrderJob:
        return self._jobs.pop(next_index(self._jobs))

    def qsize(self) -> int:
        return len(self._jobs)

    def empty(self) -> bool:
        return not self._jobs

    def passed(self, job: OrderJob) -> bool:
        """Whether a job queued now would be taken before ``job``, taken out of the queue and
        not placed yet (an exit queued while an entry was held for the bucket)."""
        return next_index([job, *self._jobs]) != 0

    def put_back(self, job: OrderJob) -> None:
        """Return ``job``, taken and not placed, to the head of the queue: it is still
        unfinished (:meth:`join` waits for it), taken again in its turn."""
        self._jobs.insert(0, job)
