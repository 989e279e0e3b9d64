"""A file import's decoding processes exit once the file is read, while the writer stores the
last batches and the import ends (the end's fold, the index build), not after it
(``Decoders.release``, docs/benchmarks.md "session 46"); processes a caller keeps for another
import stay open (tests/chain/test_ingest_workers.py); one that dies after the release still
stops the import."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from multiprocessing.process import BaseProcess
from pathlib import Path

import asyncpg
import pytest

from orderflow.chain import decode_workers, pending_sums
from orderflow.chain.contracts import MAINNET
from orderflow.chain.decode_workers import Chunk, Decoders, DecodeWorkerError
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


def _die_after_the_first_batch(data: bytes, first_line: int) -> Chunk:
    if first_line > 1:  # every batch but the first
        os._exit(3)
    return decode_workers._decode_in_child(data, first_line)


class _Dying(Decoders):
    task = staticmethod(_die_after_the_first_batch)


async def test_a_process_dying_after_the_release_still_stops_the_import(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """Released with every batch submitted (15 lines in batches of 5 or more, three ahead), a
    decoding process that dies decoding one is still a DecodeWorkerError naming the lines of the
    first batch not stored, not a short import."""
    lines = SAMPLE.read_text().splitlines()
    path = tmp_path / "logs.jsonl"
    path.write_text("".join(line + "\n" for line in lines[:15]))
    decoders = _Dying(2, path.name, 137, MAINNET, one_file=True)
    try:
        with pytest.raises(DecodeWorkerError, match=r"died while decoding lines \d+-\d+ of logs"):
            await ingest_file(pool, path, chain_id=137, batch_size=5, decoders=decoders)
    finally:
        await asyncio.to_thread(decoders.close)
