"""Whether a stored closing line is ``whole`` (read with every fill of its token attached:
detached_lines.KEEP), where a partition of the trades is detached.

A token of market 0 has fills in the older partition (detached) and in the newer one, its
closing line read from the newer one's last hours. The incremental run on the first database is
compared with a full run on a second that holds the same chain history:

* **a rollback of the line's fills** (``test_a_line_whose_fills_a_rollback_took``): the line
  stored while every fill was attached (whole, rightly), then the partition detached and a reorg
  taking back the line's last prints (the market's resolution stored again by the new branch).
  The second database never detached the partition: its full run reads the line from the prints
  left. Until 7 Dec 2026 the first kept the stored line -- the token counted short, the stored
  line whole, the new one closing earlier -- read from prints no longer on the chain;
* **a first live run after the detach** (``test_a_first_run_after_a_detach``): both databases
  detached the partition before any run; the first is scored, then prints of the line's window
  arrive late (a backfill of blocks older than the close), then scored again; the second is
  scored once, at the end, by a full run. Until 7 Dec 2026 the first run, with no stored line to
  compare, left every line ``whole`` (read from the attached fills alone), so the late prints'
  line was never read: the stored one was kept.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.chain.rollback import rollback_from
from orderflow.reputation import run_reputation
from tests.reputation.property_world import DAY, OLDER, Sim, block_of, make_world, trade

# The line columns of every stored line.
_LINES = """
SELECT token_id, close_price, close_at, prev_price FROM orderflow_reputation_closes
 WHERE close_at IS NOT NULL ORDER BY token_id
"""
_RESOLVED_AT = 9.0 * DAY  # market 0's first fill at 5 days: its line closes at 8.2 days


async def _history(sim: Sim) -> tuple[float, float]:
    """Market 0: fills in the older partition (before 6.85 days) and the newer; prints at
    ``early`` around 7.1 days and at ``late`` in its last hours (7.85-7.95 days), each by
    distinct takers; resolved at 9 days. Returns (early, late)."""
    rng = sim.rng
    early, late = round(rng.uniform(0.3, 0.55), 2), round(rng.uniform(0.65, 0.9), 2)
    takers = rng.sample(sim.wallets, 12)
    for k, who in enumerate(takers[:4]):
        trade(sim, 5.0 * DAY + k * 3600.0, who, 0, 0, 100.0, price=round(rng.uniform(0.2, 0.8), 2))
    for k, who in enumerate(takers[4:8]):
        trade(sim, 7.0 * DAY + k * 1800.0, who, 0, 0, 100.0, price=early)
    for k, who in enumerate(takers[8:]):
        trade(sim, 7.85 * DAY + k * 2400.0, who, 0, 0, 100.0, price=late)
    # other markets, all in the newer partition
    for m in range(1, 4):
        for who in rng.sample(sim.wallets, 5):
            trade(sim, rng.uniform(7.0, 8.0) * DAY, who, m, rng.randrange(2), 50.0)
    await sim.ingest()
    _resolve(sim)
    await sim.ingest()
    return early, late


def _resolve(sim: Sim) -> None:
    sim.w.chain.resolve(sim.markets[0], _RESOLVED_AT, 0)
    for m in range(1, 4):
        sim.w.chain.resolve(sim.markets[m], _RESOLVED_AT + m * 60.0, m % 2)


async def _detach(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await partitions.detach(conn, OLDER)


async def _lines(pool: asyncpg.Pool) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await pool.fetch(_LINES)]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_line_whose_fills_a_rollback_took(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    sim = await make_world(seed, [pool, other_pool])
    early, late = await _history(sim)
    assert not (await run_reputation(pool)).incremental
    stored = {r[0]: r for r in await _lines(pool)}
    assert late in {r[1] for r in stored.values()}  # market 0's line, read whole
    await _detach(pool)
    # a reorg from 7.5 days: the late prints and every resolution go; the new branch resolves
    # the markets again at the same times
    for p in (pool, other_pool):
        async with p.acquire() as conn:
            await rollback_from(conn, 137, block_of(7.5 * DAY))
    _resolve(sim)
    await sim.ingest()
    assert (await run_reputation(pool)).incremental
    assert not (await run_reputation(other_pool, full=True)).incremental
    ours, reference = await _lines(pool), await _lines(other_pool)
    assert early in {r[1] for r in reference}
    assert late not in {r[1] for r in reference}
    assert ours == reference


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_a_first_run_after_a_detach(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, seed: int
) -> None:
    sim = await make_world(seed, [pool, other_pool])
    early, late = await _history(sim)
    for p in (pool, other_pool):
        await _detach(p)
    assert not (await run_reputation(pool)).incremental
    assert late in {r[1] for r in await _lines(pool)}
    # prints of the line's window arrive late, at the early price, by five more takers: the
    # median moves (five early prints against four late)
    for k in range(5):
        who = sim.w.new_wallet()
        trade(sim, 7.86 * DAY + k * 1200.0, who, 0, 0, 100.0, price=early)
    await sim.ingest()
    assert (await run_reputation(pool)).incremental
    assert not (await run_reputation(other_pool, full=True)).incremental
    ours, reference = await _lines(pool), await _lines(other_pool)
    assert late not in {r[1] for r in reference}
    assert ours == reference
