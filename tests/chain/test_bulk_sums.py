"""Bulk mode (migration 014): a file or history import defers the per-(wallet, token) sums.

The same logs go into two databases, one through bulk batches and one batch by batch; whatever
happens in between (an import that never folded, live batches between bulk ones, a reorg through
pending rows, updates of pending rows), the sums, the wallet counters and the reputation run's
scores end up identical, and equal to a fresh aggregation of the trades.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from orderflow.chain import ingest, partitions, pending_sums
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import rollback_from
from orderflow.reputation import compute_scores, run_reputation
from tests.reputation.chainbook import _key
from tests.reputation.test_incremental_run import close
from tests.reputation.test_incremental_run import persisted as all_persisted
from tests.reputation.test_incremental_sums import assert_sums_match, same_scores, world

_SUMS = "SELECT * FROM orderflow_position_sums ORDER BY wallet_address, token_id"
_COUNTED_SUMS = (
    "SELECT * FROM orderflow_position_sums WHERE fills > 0 ORDER BY wallet_address, token_id"
)
_COUNTERS = (
    "SELECT wallet_address, total_trades, total_volume_usdc, first_trade_at, last_trade_at"
    " FROM orderflow_wallet_stats WHERE total_trades > 0 ORDER BY wallet_address"
)


def ordered_logs(seed: int) -> list[dict[str, Any]]:
    """A scoring world's logs (its markets resolved), in block order as the chain gives them."""
    w = world(seed)
    for s in w.specs:
        w.chain.resolve(s.market, s.resolves, s.winner)
    return [log for _, log in sorted(w.chain.logs, key=lambda x: (x[0], _key(x[1])))]


def split_by_block(logs: list[dict[str, Any]], parts: int) -> list[list[dict[str, Any]]]:
    """``parts`` runs of whole blocks."""
    blocks = sorted({int(log["blockNumber"], 16) for log in logs})
    edges = [blocks[len(blocks) * i // parts] for i in range(1, parts)]
    out: list[list[dict[str, Any]]] = [[] for _ in range(parts)]
    for log in logs:
        out[sum(int(log["blockNumber"], 16) >= e for e in edges)].append(log)
    return out


async def persisted(pool: asyncpg.Pool, *, counted: bool = False) -> list[dict[str, Any]]:
    """The run's wallet rows; ``counted``: leave out rows of wallets with no fill left."""
    found = await all_persisted(pool)
    if counted:
        zero = [r for r in found if r["total_trades"] == 0]
        assert all(r["reputation_score"] is None and r["first_trade_at"] is None for r in zero)
        found = [r for r in found if r["total_trades"] > 0]
    return found


async def state(
    pool: asyncpg.Pool | asyncpg.Connection,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return (
        [dict(r) for r in await pool.fetch(_COUNTED_SUMS)],
        [dict(r) for r in await pool.fetch(_COUNTERS)],
    )


async def not_folded(pool: asyncpg.Pool, claimed: asyncio.Event | None = None) -> int:
    """A fold that never comes (an import killed before it): its sums stay pending."""
    return 0


def counted_folds(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[int]:
    """The ranges each call of ``module.name`` (a fold) folded, in order of the calls."""
    folds: list[int] = []
    fold = getattr(module, name)

    async def counted(target: asyncpg.Pool | asyncpg.Connection, *args: Any, **kw: Any) -> int:
        folds.append(await fold(target, *args, **kw))
        return folds[-1]

    monkeypatch.setattr(module, name, counted)
    return folds


async def test_a_bulk_import_folds_to_the_sums_of_a_batch_by_batch_one(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool
) -> None:
    logs = ordered_logs(7)
    bulk = await ingest_logs(pool, logs, chain_id=137, batch_size=60, bulk=True)
    plain = await ingest_logs(other_pool, logs, chain_id=137, batch_size=60)
    assert bulk.batches > 5 and bulk.stored.trades == plain.stored.trades > 300
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 0  # folded at the end of the import
    assert await state(pool) == await state(other_pool)
    assert await assert_sums_match(pool) > 100
    same_scores(await compute_scores(pool), await compute_scores(other_pool))


@pytest.mark.parametrize("slow_by", [0.0, 0.3], ids=["a fold", "a fold slow to start"])
async def test_a_long_bulk_import_folds_as_it_goes(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, slow_by: float
) -> None:
    """Every BACKGROUND_FOLD_FILLS stored fills the import folds what it deferred, beside its
    batches (migration 080), and the sums end as a batch-by-batch import's. Each fold folds the
    ranges pending when it was due: the next batch starts once it has claimed them (migration
    081), however long it takes to start; one due while the last runs waits for it."""
    logs = ordered_logs(7)
    folds: list[int] = []  # the ranges each fold folded
    running: list[int] = []  # the folds running, as each started

    async def slow(pool: asyncpg.Pool, claimed: asyncio.Event | None = None) -> int:
        running.append(len(running) - len(folds) + 1)
        await asyncio.sleep(slow_by)  # waiting for a connection, say
        folds.append(await pending_sums.fold_in(pool, claimed))
        return folds[-1]

    monkeypatch.setattr(ingest, "fold_in", slow)
    monkeypatch.setattr(pending_sums, "BACKGROUND_FOLD_FILLS", 100)
    bulk = await ingest_logs(pool, logs, chain_id=137, batch_size=60, bulk=True)
    await ingest_logs(other_pool, logs, chain_id=137, batch_size=60)
    assert bulk.stored.trades > 300
    assert len(folds) > 5 and all(folds[:-1])  # one every few batches, each of a range
    assert set(running) == {1}  # one at a time
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 0
    assert await state(pool) == await state(other_pool)


async def test_an_import_that_never_folded_scores_like_a_batch_by_batch_one(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, live, last = split_by_block(ordered_logs(11), 3)

    # The bulk database: an import killed after its last batch committed, before its fold;
    # live batches; a second such import (a new pending range: stored rows lie between).
    monkeypatch.setattr(ingest, "fold_in", not_folded)
    await ingest_logs(pool, first, chain_id=137, batch_size=40, bulk=True)
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 1  # the batches' ranges, merged
    assert await pool.fetchval("SELECT count(*) FROM orderflow_position_sums") == 0
    await ingest_logs(pool, live, chain_id=137, batch_size=40)
    await ingest_logs(pool, last, chain_id=137, batch_size=40, bulk=True)
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 2
    # The other database: the same logs batch by batch.
    for part in (first, live, last):
        await ingest_logs(other_pool, part, chain_id=137, batch_size=40)

    # Then, in both: a reorg through pending and live rows, and the store's kinds of updates
    # on pending and counted rows (fee refunds, market ids forgotten and learnt again).
    fork = int(live[len(live) // 2]["blockNumber"], 16)
    for p in (pool, other_pool):
        async with p.acquire() as conn:
            gone = await rollback_from(conn, 137, fork)
        assert gone.trades > 0
        await p.execute(
            "UPDATE orderflow_trades SET fee = fee / 2, fee_refunded = fee / 2"
            " WHERE fee > 0 AND log_index % 3 = 0"
        )
        await p.execute(
            "UPDATE orderflow_trades SET market_id = NULL, outcome_index = NULL"
            " WHERE log_index % 5 = 0"
        )
        await p.execute(
            "UPDATE orderflow_trades t SET market_id = k.condition_id,"
            " outcome_index = k.outcome_index FROM orderflow_tokens k"
            " WHERE t.token_id = k.token_id AND t.market_id IS NULL AND t.log_index % 2 = 0"
        )
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 2  # nothing above folded them
        # folded (then rolled back: the run below must fold them itself), the counters too
        # (the run rewrites them from its own aggregation)
        undo = conn.transaction()
        await undo.start()
        await conn.fetchval(pending_sums.FOLD)
        folded = await state(conn)
        await undo.rollback()
    # (keys and wallets whose fills all went in the reorg keep zero rows where they had been
    # counted: for the next run to see; no run has seen a pending row)
    assert folded == await state(other_pool)

    # Read-only scores while sums are pending (compute_scores folds nothing): from the trades.
    same_scores(await compute_scores(pool), await compute_scores(other_pool))
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 2

    # The reputation run folds before it reads: the same sums, counters and scores.
    bulk_run = await run_reputation(pool)
    plain_run = await run_reputation(other_pool)
    assert bulk_run.source == plain_run.source == "sums"
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 0
    assert await state(pool) == await state(other_pool)
    assert await pool.fetch(_SUMS) == await other_pool.fetch(_SUMS)  # the zero rows went too
    await assert_sums_match(pool)
    close(await persisted(pool), await persisted(other_pool, counted=True))
    same_scores(await compute_scores(pool), await compute_scores(other_pool))


async def test_a_bulk_replay_adds_nothing(pool: asyncpg.Pool) -> None:
    logs = ordered_logs(5)
    await ingest_logs(pool, logs, chain_id=137, batch_size=80)
    before = await state(pool)
    again = await ingest_logs(pool, logs, chain_id=137, batch_size=80, bulk=True)
    assert again.stored.trades == 0 and again.stored.duplicate_trades > 0
    assert await state(pool) == before
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 0


async def test_detaching_a_partition_folds_its_pending_sums_first(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    logs = ordered_logs(3)

    monkeypatch.setattr(ingest, "fold_in", not_folded)
    await ingest_logs(pool, logs, chain_id=137, batch_size=60, bulk=True)
    await ingest_logs(other_pool, logs, chain_id=137, batch_size=60)
    total = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    holding = await pool.fetchval(  # the oldest partition holding fills
        "SELECT tableoid::regclass::text FROM orderflow_trades ORDER BY block_number LIMIT 1"
    )
    async with pool.acquire() as conn:
        assert await pending_sums.pending(conn) == 1
        await partitions.detach(conn, holding, concurrently=False)
        assert await pending_sums.pending(conn) == 0
    assert await pool.fetchval("SELECT count(*) FROM orderflow_trades") < total
    assert await state(pool) == await state(other_pool)  # the detached fills' sums stay
