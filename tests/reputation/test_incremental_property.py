"""A randomized property: the incremental run equals a full recompute on the same data.

A small world (three dozen wallets, eight binary markets, one neg-risk event of three legs)
goes through a random sequence of what the chain and the listener do to the stored data: fills
(BUYs, SELLs of what a wallet holds, a complete set bought at once, two wallets trading with
each other), resolutions (the event's legs together: exactly one YES wins), a reorg's rollback
(``rollback_from``; sometimes the orphaned logs stored again), a block retracted
(``retract_block``), a leg added to the event, an import storing a fill wrong and the node's
logs replacing it (``store_batch(..., authoritative=True)``), the older partition detached and
attached again. Every operation is applied to two databases; the first is scored incrementally
after some steps and never fully, the second only by full runs at the checkpoints, where every
persisted figure, score, tier, flag, factor and problem must agree. Fixed seeds: deterministic.
The world is ``property_world.py``'s, the operations and the comparison ``property_ops.py``'s.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.reputation import run_reputation
from tests.reputation.property_ops import OPS, OPS_DETACH, compare, op_trades
from tests.reputation.property_world import make_world
from tests.reputation.test_incremental_sums import assert_sums_match

SEEDS = [1, 2, 3, 4, 5]
STEPS = 30
CHECKPOINTS = {10, 20}
# OPS_DETACH's: the seeds of 1-21 where the run after an attach differed from a full one.
DETACH_SEEDS = [4, 6, 9, 18]


async def _random_history(
    pool: asyncpg.Pool,
    reference: asyncpg.Pool,
    seed: int,
    operations: list[Any],
    deletes_detached: bool = False,
) -> None:
    sim = await make_world(seed, [pool, reference])
    sim.deletes_detached = deletes_detached
    ops, weights = zip(*operations, strict=True)
    runs = 0
    for step in range(STEPS):
        op = sim.rng.choices(ops, weights)[0]
        # an operation with nothing to act on: fills instead
        did = await op(sim) or await op_trades(sim) or "nothing open"
        sim.log.append(f"{step}: {did}")
        if step in CHECKPOINTS:
            await compare(sim)
        elif sim.rng.random() < 0.3:
            await run_reputation(pool)
            runs += 1
    await compare(sim)
    assert runs > 0
    if not sim.detached:
        await assert_sums_match(pool, counters=False)


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_operations_incremental_equals_full(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    await _random_history(pool, other_pool, seed, OPS)


@pytest.mark.parametrize("seed", DETACH_SEEDS)
async def test_detached_partition_attached_again(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    """With the partition operation: compared equal just before each attach (seed 18: detached
    since step 15; a leg added, a market and the event resolved meanwhile), the incremental run
    right after the attach and a full run agree (the run after an attach is a full one)."""
    await _random_history(pool, other_pool, seed, OPS_DETACH)


@pytest.mark.parametrize("seed", [9, 18, 21])
async def test_deletes_while_detached(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    """Rollbacks, retractions and replacements of attached fills while the older partition is
    detached (seeds 9, 18 and 21 of 1-21 differed). Seed 9: step 8's rollback took every fill of
    partition 1, so a token whose fills left are all detached has no mark from the trades; the
    incremental database had stored the mark of a fill the rollback then deleted (0.89), the
    reference the partition's own (0.70): ``unrealized_pnl`` -177.61 against -196.61. A stored
    mark is now kept only while its fill's block is in no attached partition (detached_lines
    .MARKS), the newest such one kept beside the attached fills' mark. Seed 21 (a strict xfail
    until 7 Dec 2026): a closing line. A resolved token with detached fills and two attached
    ones (blocks 1326833 and 1337460, both at 0.30) had ``prev_price`` None stored by an
    incremental run while the partition was detached (its window read attached fills only) and
    kept at every later run, since its fills in the sums outnumber its attached ones; the
    reference read 0.3 (wallet ...a0005214's ``factor_figures`` index 47, ``resid_se``: 0.0
    against 1.5275). A stored line is now kept only while a block it read (its newest fill's or
    its oldest's: ``close_block``, ``line_from``) is detached (detached_lines.KEEP)."""
    await _random_history(pool, other_pool, seed, OPS_DETACH, deletes_detached=True)
