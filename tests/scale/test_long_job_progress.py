"""A file import and a backfill show their progress: done, rate and ETA (issue 14)."""

from __future__ import annotations

import io
from pathlib import Path

import asyncpg

from orderflow.chain.ingest import ingest_file
from orderflow.progress import Progress

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_file_import_reports_lines_and_bytes_to_the_end(pool: asyncpg.Pool) -> None:
    out = Terminal()
    size = SAMPLE.stat().st_size
    progress = Progress("import sample", unit="bytes", total=size, count_unit="lines",
                        stream=out, min_interval=0.0)  # fmt: skip
    report = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=4, progress=progress)
    drawn = out.getvalue().split("\r\x1b[2K")[1:]
    # a line per stored batch, the completed source, then the final summary
    assert len(drawn) == report.batches + 2
    assert out.getvalue().endswith("\n")
    assert progress.count == report.lines == 17
    assert progress.done == size and drawn[-1].startswith(
        f"import sample: 17 lines {size:,} / {size:,} bytes (100.0 %) in 0:00:"
    )
    # the lines done only ever grow, batch after batch
    counts = [int(line.split(": ", 1)[1].split(" lines")[0]) for line in drawn]
    assert counts == sorted(counts) and counts[0] < 17
