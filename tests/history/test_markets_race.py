"""The Gamma import against a concurrent reorg rollback: one writer at a time.

A Gamma import of a market the chain resolved notes Gamma's resolution beside the chain's
(the gamma_* columns), so that a reorg orphaning the chain's resolution gives the market back to
Gamma's (``rollback_from``). Both writers must take the ledger's writer lock, or a rollback that
read the outcomes before Gamma's note and deletes them after it loses the note, and the market.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from orderflow.chain.ingest import ingest_logs
from orderflow.chain.rollback import RollbackStats, rollback_from
from orderflow.chain.tokens import ctf_tokens
from orderflow.history import import_file
from tests.history import dumps as d
from tests.history.test_markets import OTHER, _outcomes, _resolution, gamma

TARGET = "0x" + "5b" * 32  # resolved by the chain only, until Gamma's import notes it
YES_WON = {"closed": True, "outcomePrices": '["1", "0"]'}  # the chain's winner: outcome 0


async def _waiting(pool: asyncpg.Pool) -> int:
    """Backends of this test's database waiting on a lock (advisory or row)."""
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
    )


async def _until_waiting(pool: asyncpg.Pool, n: int) -> None:
    for _ in range(600):
        if await _waiting(pool) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {n} backends waiting on a lock")


def _ids(condition: str) -> list[str]:
    return [str(t.token_id) for t in ctf_tokens(condition, 2, neg_risk=False, source="t")]


async def test_gammas_note_survives_a_rollback_running_beside_the_import(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # The chain resolved both (block 88,100,000); Gamma's note is on OTHER already.
    await ingest_logs(pool, [_resolution(OTHER), _resolution(TARGET)], chain_id=137)
    first = d.write_jsonl(
        tmp_path / "other.jsonl",
        [gamma(OTHER, _ids(OTHER), **YES_WON, closedTime="2026-06-24 08:00:00+00")],
    )
    await import_file(pool, first, chain_id=137)
    later = d.write_jsonl(
        tmp_path / "target.jsonl",
        [gamma(TARGET, _ids(TARGET), **YES_WON, closedTime="2026-06-25 08:00:00+00")],
    )

    # Hold both outcome rows, so that each writer stops at its first touch of one: the import
    # at its resolution (after its tokens), the rollback at handing OTHER back to Gamma (its
    # statement has read the outcomes: TARGET, without a note, is not handed back).
    async with pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        try:
            await holder.execute(
                "SELECT 1 FROM orderflow_market_outcomes WHERE market_id = ANY($1) FOR UPDATE",
                [OTHER, TARGET],
            )
            imported = asyncio.create_task(import_file(pool, later, chain_id=137))
            await _until_waiting(pool, 1)

            async def rollback() -> RollbackStats:
                async with pool.acquire() as conn:
                    return await rollback_from(conn, 137, 88_100_000)

            rolled = asyncio.create_task(rollback())
            await _until_waiting(pool, 2)
        finally:
            await tx.commit()
        report = await imported
        await rolled

    # The reorg orphaned the chain's resolutions: both markets are Gamma's again.
    assert report.gamma_resolutions == 0  # noted on the chain's resolution, as imported
    back = await _outcomes(pool)
    assert {m: r["source"] for m, r in back.items()} == {OTHER: "gamma", TARGET: "gamma"}
    assert back[TARGET]["winning_outcome"] == 0
    assert back[TARGET]["resolved_at"].isoformat() == "2026-06-25T08:00:00+00:00"
