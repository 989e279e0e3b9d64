"""What one ``store_batch`` call changed (``store.py``), added up by the imports."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(slots=True)
class StoreStats:
    """What one ``store_batch`` call changed (new rows only: replays count as duplicates)."""

    trades: int = 0
    duplicate_trades: int = 0
    replaced_trades: int = 0  # stored trades the node's logs contradicted (store_replace)
    matches: int = 0
    replaced_matches: int = 0
    linked: int = 0
    conditions: int = 0
    tokens: int = 0
    backfilled: int = 0
    outcomes: int = 0
    refunds: int = 0
    refunds_applied: int = 0
    replaced_refunds: int = 0  # stored refunds the node's logs contradicted (store_refunds)
    dead_letters: int = 0
    blocks: int = 0
    removed: int = 0
    retracted: int = 0  # stored trades a removed log retracted (rollback.retract_removed)
    ignored: int = 0
    checkpoint_advanced: bool = False

    def add(self, other: StoreStats) -> None:
        for f in fields(self):
            if f.name != "checkpoint_advanced":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.checkpoint_advanced |= other.checkpoint_advanced
