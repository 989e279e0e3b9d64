"""What one file import read and stored (``ImportReport``), and its progress after each batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from orderflow.chain.store import StoreStats
from orderflow.history.hand_over import Kept
from orderflow.history.metrics import counters
from orderflow.history.sources import RowReader
from orderflow.progress import Progress

DISAGREEING_NAMED = 10
"""Markets a Gamma import's warning names where Gamma disagrees with the chain."""

Position = tuple[int, int | None]
"""How far through the file a batch ends: (done, total) in the reader's ``position_unit``."""


@dataclass(slots=True)
class ImportReport:
    """What one file import read and stored."""

    path: str
    layout: str = ""
    kind: str = ""
    rows: int = 0
    dead_letters: int = 0
    batches: int = 0
    elapsed_secs: float = 0.0
    stored: StoreStats = field(default_factory=StoreStats)
    last_block: int | None = None
    handed_over: bool = False
    listener_kept: Kept | None = None  # the listener's checkpoint, left there (hand_over)
    markets: int = 0
    markets_skipped: int = 0
    tokens: int = 0
    trades_joined: int = 0
    gamma_resolutions: int = 0
    gamma_disagreements: int = 0  # Gamma names another winner than the chain's resolution
    disagreeing: list[str] = field(default_factory=list)  # the first DISAGREEING_NAMED of them
    gamma_conflicts: int = 0  # … than an earlier Gamma import's (the earlier stands)
    conflicting: list[str] = field(default_factory=list)  # the first DISAGREEING_NAMED of them
    blocks: int = 0

    @property
    def rows_per_sec(self) -> float:
        return self.rows / self.elapsed_secs if self.elapsed_secs > 0 else 0.0

    def summary(self) -> str:
        head = f"{self.path} ({self.layout}): {self.rows:,} rows in {self.elapsed_secs:.1f}s "
        head += f"({self.rows_per_sec:,.0f} rows/s), {self.dead_letters:,} dead letters"
        if self.kind == "markets":
            return (
                f"{head}; {self.markets:,} markets verified ({self.markets_skipped:,} without "
                f"CLOB tokens), {self.tokens:,} new tokens, {self.trades_joined:,} trades joined "
                f"to their market, {self.gamma_resolutions:,} resolutions from Gamma, "
                f"{self.gamma_disagreements:,} naming another winner than the chain's (the "
                f"chain's stands), {self.gamma_conflicts:,} than an earlier Gamma import's (the "
                "earlier stands)"
            )
        if self.kind == "blocks":
            return f"{head}; {self.blocks:,} blocks"
        s = self.stored
        text = (
            f"{head}; {s.trades:,} trades stored ({s.duplicate_trades:,} already present), "
            f"{s.matches:,} matches, {s.conditions:,} conditions, {s.outcomes:,} resolutions"
        )
        if self.last_block is not None:
            text += f"; last block {self.last_block:,}"
            text += " (the listener continues from the next)" if self.handed_over else ""
        kept = self.listener_kept
        if kept is not None and kept.owned:
            text += (
                f"; the listener's checkpoint stays at block {kept.block:,}: it is the"
                " listener's own, and moving it to the file's last block would skip the blocks"
                " in between (the listener reads them, and the file's again, idempotently)"
            )
        elif kept is not None:
            text += (
                f"; the listener's checkpoint stays at block {kept.block:,}, an earlier import's:"
                " checkpoints only move forward, so the listener continues from there"
            )
        return text


def advance(prog: Progress, report: ImportReport, read: int, dead: int, at: Position) -> None:
    """After a batch: the import's counters, then the file's progress."""
    counters().add(report.kind, read, dead)
    prog.update(at[0], total=at[1], count=report.rows, dead=report.dead_letters)


def line_unit(reader: RowReader) -> str:
    return "row" if reader.format == "parquet" or reader.array else "line"
