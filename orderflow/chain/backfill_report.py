"""What one backfill call did, range by range (for its logs, the CLI's summary and tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from orderflow.chain.backfill_read import ReadRange
from orderflow.chain.copy_render import CopyRows
from orderflow.chain.events import DecodedBatch
from orderflow.chain.store_stats import StoreStats


@dataclass
class BackfillReport:
    """What one backfill call did (for logs and tests)."""

    from_block: int
    to_block: int
    ranges: int = 0
    logs: int = 0
    fills: int = 0
    dead_letters: int = 0
    shrinks: int = 0
    refetches: int = 0
    conditions: int = 0
    resolutions: int = 0
    cap_splits: int = 0  # replies at a result cap, split and read again
    narrowed_blocks: int = 0  # single blocks at a result cap, read by narrower filters
    capped_blocks: int = 0  # single blocks still at a result cap, taken as returned
    behind: int = 0  # replies short of a block's logs (a lagging backend): read again
    bloom_false_positives: int = 0  # blocks whose bloom matched, none of our logs by hash
    new_rows: int = 0  # fills and matches not stored before, past those a fork's replaced
    range_sizes: list[int] = field(default_factory=list)

    def count_new(self, stats: StoreStats) -> None:
        """Add a stored range's new fills and matches: those not stored before (a replay or a
        re-read of a whole block adds none), less the rows of another fork they replaced (a
        reorg's new rows are not logs a node left out)."""
        new = stats.trades + stats.matches
        self.new_rows += max(0, new - stats.replaced_trades - stats.replaced_matches)

    def count(self, item: ReadRange, batch: DecodedBatch, rows: CopyRows | None) -> None:
        """Add a stored range: its reply's figures and what its batch held (``rows``: the fills
        and matches rendered for COPY, when the batch does not hold them)."""
        self.logs += item.logs
        self.cap_splits += item.splits
        self.narrowed_blocks += item.narrowed_blocks
        self.capped_blocks += item.capped_blocks
        self.bloom_false_positives += item.bloom_false_positives
        self.fills += len(batch.fills) + (rows.fill_count if rows is not None else 0)
        self.dead_letters += len(batch.dead_letters)
        self.conditions += len(batch.conditions)
        self.resolutions += len(batch.resolutions)
