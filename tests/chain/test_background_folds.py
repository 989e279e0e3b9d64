"""When a bulk import folds (``pending_sums.BackgroundFolds``): beside its batches every
BACKGROUND_FOLD_FILLS stored fills, never more than one fold behind, the rest at its end; between
its batches with no second connection. No database: the folds are stand-ins that record how many
fills were unfolded when each started.

Control tests of the schedule as measured best (docs/benchmarks.md "7 Dec 2026, session 41"): a
fold started as soon as the last had ended (a fold every batch or two) left the end's fold a
batch or two instead of up to 25,000 fills, but cost the backends ≈ 11 % more CPU (each fold
upserts the counters of nearly every wallet again) and was no faster; one fold at the end only
cost about the same CPU as these and left 150,000 fills alone at the end."""

from __future__ import annotations

import asyncio

import pytest

from orderflow.chain import pending_sums
from orderflow.chain.pending_sums import BackgroundFolds

BATCH_FILLS = 10


class Folds:
    """Stand-in folds: each records the fills stored since the last one started, claims at
    once and ends when ``release`` is set (set: at once)."""

    def __init__(self) -> None:
        self.stored = 0  # every fill the import stored
        self.folded_to = 0  # the fills stored when the last fold started
        self.sizes: list[int] = []
        self.running = 0
        self.most_running = 0
        self.release = asyncio.Event()
        self.release.set()

    async def fold(self, claimed: asyncio.Event) -> None:
        self.sizes.append(self.stored - self.folded_to)
        self.folded_to = self.stored
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        claimed.set()
        try:
            await self.release.wait()
        finally:
            self.running -= 1


async def _import(folds: Folds, background: BackgroundFolds, batches: int) -> None:
    for _ in range(batches):
        folds.stored += BATCH_FILLS
        await background.stored(BATCH_FILLS)
        await asyncio.sleep(0)  # the batch's own awaits: a fold beside gets to run
    await background.finish()


@pytest.fixture
def sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending_sums, "BACKGROUND_FOLD_FILLS", 100)


async def test_beside_every_background_fold_fills_and_the_rest_at_the_end(sizes: None) -> None:
    """Folds that end at once: one every BACKGROUND_FOLD_FILLS fills, however soon the last
    ended (not one per batch: each fold costs the backend about as much again for every wallet
    it touches), and what is left at the end."""
    folds = Folds()
    await _import(folds, BackgroundFolds(folds.fold, beside=True), batches=25)
    assert folds.sizes == [100, 100, 50]


async def test_a_slow_fold_keeps_the_import_at_most_one_fold_behind(sizes: None) -> None:
    """A fold that does not end: the batches go on beside it until the next fold is due, then
    the import waits for it; never two folds at once."""
    folds = Folds()
    folds.release.clear()
    background = BackgroundFolds(folds.fold, beside=True)
    task = asyncio.create_task(_import(folds, background, batches=25))
    for _ in range(200):
        await asyncio.sleep(0)
    assert folds.sizes == [100]  # the first fold runs; the batches stopped at 100 more
    assert folds.stored == 100 + 100
    folds.release.set()
    await asyncio.wait_for(task, 30)  # a safety net: reached only when the test fails
    assert folds.most_running == 1
    assert folds.sizes == [100, 100, 50]


async def test_between_the_batches_every_background_fold_fills(sizes: None) -> None:
    """With no second connection the folds run between the batches, every
    BACKGROUND_FOLD_FILLS fills (a fold per batch there would stop every batch)."""
    folds = Folds()
    await _import(folds, BackgroundFolds(folds.fold, beside=False), batches=25)
    assert folds.sizes == [100, 100, 50]
