"""The scores after a partition of the trades is detached or attached (by the CLI's functions or
by hand): the closing lines, read from the trades, keep what the detached fills made them
(``orderflow.reputation.detached_lines``), so the incremental run after a detach or an attach
gives what a full run gives, every persisted figure (``tests/reputation/test_wash_partitions.py``
compares the counterparty evidence alone). Both fail on the tree before: a full run computed
the lines again from the attached fills alone, an incremental run kept the stored ones."""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.test_incremental_run import close, persisted
from tests.reputation.test_incremental_sums import same_scores
from tests.reputation.test_wash_partitions import _attach, _detach, _new_fills
from tests.reputation.wash_state_step import wash_world


async def _next_run_is_full(pool: asyncpg.Pool) -> None:
    """The run after the detach or attach, then a full one on the same data: the same rows."""
    await run_reputation(pool)
    after = await persisted(pool)
    scores = await compute_scores(pool)
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), after)
    same_scores(await compute_scores(pool), scores)


@pytest.mark.parametrize("by_hand", [False, True], ids=["cli", "by-hand"])
async def test_scores_after_detach_and_attach_are_a_full_runs(
    pool: asyncpg.Pool, by_hand: bool
) -> None:
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    assert (await run_reputation(pool)).incremental
    before = await persisted(pool)

    await _detach(pool, by_hand)
    await _new_fills(w, pool)
    await _next_run_is_full(pool)
    assert await persisted(pool) != before  # the detached fills moved the scores

    await _attach(pool, by_hand)
    await _new_fills(w, pool)
    await _next_run_is_full(pool)


_CLOSES = "SELECT * FROM orderflow_reputation_closes ORDER BY token_id"


@pytest.mark.parametrize("by_hand", [False, True], ids=["cli", "by-hand"])
async def test_a_detached_month_keeps_its_closing_lines(pool: asyncpg.Pool, by_hand: bool) -> None:
    """The closing lines a live run computed from fills later detached stay what they were, in
    a full run (which computes every line again) and in the incremental runs around it; without
    the stored lines, tokens whose closing trade was detached lost their line (12 of 30 tokens
    without one, against 4), and with it the wallets' closing-line edge."""
    w = wash_world(6)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    lines = [tuple(r) for r in await pool.fetch(_CLOSES)]
    assert sum(1 for r in lines if r[2] is not None) > 10  # closing lines (close_at)

    await _detach(pool, by_hand)
    assert (await run_reputation(pool)).incremental
    assert [tuple(r) for r in await pool.fetch(_CLOSES)] == lines
    assert not (await run_reputation(pool, full=True)).incremental
    assert [tuple(r) for r in await pool.fetch(_CLOSES)] == lines
