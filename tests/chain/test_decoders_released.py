"""A file import's decoding processes exit once the file is read, while the writer stores the
last batches and the import ends (the end's fold, the index build), not after it
(``Decoders.release``, docs/benchmarks.md "session 46"); processes a caller keeps for another
import stay open (tests/chain/test_ingest_workers.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
from multiprocessing.process import BaseProcess
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import pending_sums
from orderflow.chain.ingest import ingest_file, start_decoders

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "polymarket-logs.jsonl"
SAFETY_SECS = 20.0  # a safety net only: processes told to go exit within a fraction of it


async def _exited() -> list[BaseProcess]:
    """This process's children still running once they have had SAFETY_SECS to exit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SAFETY_SECS
    while (alive := multiprocessing.active_children()) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    return alive


async def test_one_files_decoders_exit_before_the_imports_end(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_the_end: list[list[BaseProcess]] = []
    finish = pending_sums.BackgroundFolds.finish

    async def watched(self: pending_sums.BackgroundFolds) -> None:
        at_the_end.append(await _exited())  # the end's fold: the file was read long ago
        await finish(self)

    monkeypatch.setattr(pending_sums.BackgroundFolds, "finish", watched)
    decoders = await start_decoders(SAMPLE, 2, chain_id=137, one_file=True)
    try:
        report = await ingest_file(
            pool, SAMPLE, chain_id=137, batch_size=4, bulk=True, decoders=decoders
        )
    finally:
        await asyncio.to_thread(decoders.close)
    assert (report.stored.trades, report.batches) == (9, 4)
    assert at_the_end == [[]]


async def test_decoders_of_their_own_exit_too(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_the_end: list[list[BaseProcess]] = []
    finish = pending_sums.BackgroundFolds.finish

    async def watched(self: pending_sums.BackgroundFolds) -> None:
        at_the_end.append(await _exited())
        await finish(self)

    monkeypatch.setattr(pending_sums.BackgroundFolds, "finish", watched)
    report = await ingest_file(pool, SAMPLE, chain_id=137, batch_size=4, workers=2, bulk=True)
    assert report.stored.trades == 9
    assert at_the_end == [[]]
