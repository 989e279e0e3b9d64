"""The eth_getLogs block range of a backfill, adapting to what the node accepts: halved on a
refusal (or cut to a limit the provider states), doubled again after a few successes.

A block limit the provider states for every query holds for every reader of that provider: the
listener's backfill and its condition sync share one :class:`StatedLimit`, so the second reader
obeys it without a refusal of its own (:meth:`AdaptiveRange.follow_stated` before each request).
A size fitted to one filter's reply (a suggested range, a reply too large) is that reader's
alone: the sparse condition logs can be read in far wider ranges than the fills."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StatedLimit:
    """The most blocks the provider said any eth_getLogs may span (None: it has said nothing)."""

    blocks: int | None = None

    def learn(self, blocks: int) -> None:
        self.blocks = blocks if self.blocks is None else min(self.blocks, blocks)


@dataclass
class AdaptiveRange:
    """The eth_getLogs block range: halves on refusal, doubles after ``grow_after`` successes."""

    size: int
    min_size: int
    max_size: int
    grow_after: int = 3
    stated: StatedLimit = field(default_factory=StatedLimit)
    _streak: int = 0

    def follow_stated(self) -> None:
        """Cut the range and its maximum to the limit the provider stated to any reader."""
        limit = self.stated.blocks
        if limit is not None and limit < self.max_size:
            self.max_size = max(self.min_size, limit)
            self.size = min(self.size, self.max_size)

    def shrink(self, to: int | None = None, *, cap: int | None = None) -> bool:
        """Halve the range, or cut it to ``to`` blocks (a size the provider stated, which also
        becomes the new maximum); False when it is already at the minimum. ``cap``: a block
        limit it stated for every query, shared with the provider's other readers."""
        self._streak = 0
        if cap is not None:
            self.stated.learn(cap)
        if self.size <= self.min_size:
            return False
        if to is not None and to < self.size:
            self.max_size = max(self.min_size, min(self.max_size, to))
            self.size = max(self.min_size, to)
        else:
            self.size = max(self.min_size, self.size // 2)
        return True

    def narrow(self, span: int) -> bool:
        """Halve a range of ``span`` blocks that kept failing (a backfill's last range may be
        shorter than :attr:`size`): the next ones span at most half of it. Not a stated limit:
        the maximum stays, and successes double the range again. False at the minimum."""
        self._streak = 0
        if span <= self.min_size:
            return False
        self.size = max(self.min_size, min(self.size, span) // 2)
        return True

    def success(self) -> None:
        self._streak += 1
        if self._streak >= self.grow_after and self.size < self.max_size:
            self.size = min(self.max_size, self.size * 2)
            self._streak = 0
