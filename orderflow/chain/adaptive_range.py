"""The eth_getLogs block range of a backfill, adapting to what the node accepts: halved on a
refusal (or cut to a limit the provider states), doubled again after a few successes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AdaptiveRange:
    """The eth_getLogs block range: halves on refusal, doubles after ``grow_after`` successes."""

    size: int
    min_size: int
    max_size: int
    grow_after: int = 3
    _streak: int = 0

    def shrink(self, to: int | None = None) -> bool:
        """Halve the range, or cut it to ``to`` blocks (a limit the provider stated, which also
        becomes the new maximum); False when it is already at the minimum."""
        self._streak = 0
        if self.size <= self.min_size:
            return False
        if to is not None and to < self.size:
            self.max_size = max(self.min_size, min(self.max_size, to))
            self.size = max(self.min_size, to)
        else:
            self.size = max(self.min_size, self.size // 2)
        return True

    def success(self) -> None:
        self._streak += 1
        if self._streak >= self.grow_after and self.size < self.max_size:
            self.size = min(self.max_size, self.size * 2)
            self._streak = 0
