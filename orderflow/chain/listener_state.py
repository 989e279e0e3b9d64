"""What a running listener reports: head, checkpoint, connection, counters (/readyz, tests).

``Listener`` owns one ``ListenerState`` across reconnects; each ``LiveSession`` updates it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ListenerState:
    """Progress shared with /readyz and tests (monotonic clock for ages)."""

    head: int | None = None
    head_seen_at: float | None = None
    checkpoint: int | None = None
    connected: bool = False
    streaming: bool = False
    reconnects: int = 0
    reorgs: int = 0
    sessions: int = 0
    conditions_synced: bool = False
    confirmed: int | None = None  # the confirming read's mark (orderflow.chain.confirming)
    confirm_found: int = 0  # fills and matches it stored that had been left out

    @property
    def lag(self) -> int | None:
        if self.head is None or self.checkpoint is None:
            return None
        return max(0, self.head - self.checkpoint)
