"""The node's ConditionResolution or ConditionPreparation at another height replaces the stored
one of the same condition.

ConditionalTokens resolves a condition once (``reportPayouts`` refuses a second report) and
prepares it once (``prepareCondition`` refuses a second preparation): the node's log of either,
in a batch of the node's (``store_batch(…, authoritative=True)``: the listener's backfill and
live blocks), is the only one the chain has. A stored row of the same condition elsewhere — at
another block, under another block hash, transaction or log index, or with other payouts — is
not of the chain: an imported row (``listen --from-file`` of a file recorded across a reorg,
from a node that never sends ``removed: true``; a file naming a wrong block), or a fork's left
over that no rollback removed. When the node's batch records the header of that row's height,
``store_forks`` removes it (``test_fork_leftover_markets.py``); a batch records no header at a
height where the node's block holds none of our logs and that is neither a range's end nor
recent (a backfill below its top blocks, or below the reorg window), and then nothing did.

Here a file stored BTC's resolution (YES won, or the same NO payout) or its preparation at block
6 of an orphaned fork; the node's blocks 4 to 8 hold BTC's preparation at 4 (or at 8) and its
resolution at 8 (NO won), and its batch records the headers of 4 and 8 only. Before (6 Dec 2026)
the stored rows stayed: BTC resolved YES at block 6 under the orphaned hash, the node's
resolution not stored (``INSERT … ON CONFLICT (market_id) DO UPDATE … WHERE source = 'gamma'``),
and the preparation kept naming block 6 of the orphaned fork (its time too), where a retraction
of that fork's block 6 would take BTC's tokens with it.
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import StoreStats, store_batch
from tests.chain.factory import block_hash
from tests.chain.sample_logs import BTC
from tests.chain.test_fork_leftover_markets import FORK, _header, _markets, _prepare, _resolve

RESOLVED = 8


async def _node(pool: asyncpg.Pool, prepared: int) -> StoreStats:
    """The listener's read of blocks 4 to 8: BTC prepared at ``prepared``, resolved at 8 (NO
    won); headers of blocks 4 and 8 only (the node's block 6 holds none of our logs)."""
    logs = [_prepare(BTC, prepared), _resolve(RESOLVED, [0, 1])]
    async with pool.acquire() as conn:
        return await store_batch(
            conn,
            decode_batch(logs, 137),
            chain_id=137,
            blocks=[_header(n) for n in (4, RESOLVED)],
            authoritative=True,
        )


CASES = {
    "resolution, other payout": ([_prepare(BTC, 4), _resolve(FORK, [1, 0], fork=1)], 4),
    "resolution, same payout": ([_prepare(BTC, 4), _resolve(FORK, [0, 1], fork=1)], 4),
    "preparation": ([_prepare(BTC, FORK, fork=1)], RESOLVED),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_the_nodes_market_event_at_another_height_replaces_the_stored_one(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, case: str
) -> None:
    imported, prepared = CASES[case]
    await ingest_logs(pool, imported, chain_id=137)
    stats = await _node(pool, prepared)

    await _node(other_pool, prepared)  # a database that only ever held the node's blocks
    conditions, tokens, outcomes = await _markets(pool)
    assert (conditions, tokens, outcomes) == await _markets(other_pool), (
        f"{case}: after the node's batch (no header at block {FORK}), the file's row of the "
        f"orphaned block {FORK} (…{block_hash(FORK, 1)[-10:]}) is still held — conditions "
        f"(id, block, hash) {[(r[0][-6:], r[1], r[2][-10:]) for r in conditions]}, outcomes "
        f"(market, winner, block, hash) {[(r[0][-6:], r[1], r[2], r[3][-10:]) for r in outcomes]}"
    )
    kind = "ConditionPreparation" if case == "preparation" else "ConditionResolution"
    letters = await pool.fetch("SELECT block_number, reason FROM orderflow_dead_letters")
    assert [r["block_number"] for r in letters] == [FORK]
    reason = letters[0]["reason"]
    assert reason.startswith(f"{kind} stored at block {FORK} (hash {block_hash(FORK, 1)}"), reason
    assert f"the node's log of it is at block {prepared if kind[9] == 'P' else RESOLVED}" in reason
    assert stats.outcomes == 1

    again = await _node(pool, prepared)  # a replay: nothing differs any more
    assert (again.outcomes, again.conditions, again.dead_letters) == (0, 0, 0)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 1


async def test_an_imported_resolution_at_another_height_stays_for_an_import(
    pool: asyncpg.Pool,
) -> None:
    """Control (passes before the fix too): a second file is not the chain: the first stored
    resolution stays (the node's replaces it when the listener reads it)."""
    await ingest_logs(pool, CASES["resolution, other payout"][0], chain_id=137)
    before = await _markets(pool)
    await ingest_logs(pool, [_resolve(RESOLVED, [0, 1])], chain_id=137)
    assert await _markets(pool) == before
