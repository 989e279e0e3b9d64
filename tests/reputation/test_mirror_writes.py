"""After an incremental run's upsert, the standings' copies of the written rows' score, tier
and flags (``stored_inputs.mirror``) are rewritten only where they moved.

Most rows an hourly run gives its upsert keep their score, tier and flags (a mark moved their
unrealized P&L; a rescoring left the score where it was), and an UPDATE rewrites a row even to
the values it holds: at 1 M wallets that was 2.4-4.6 s of a 38 s hourly run for rows that did
not change (docs/benchmarks.md).
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from orderflow.reputation import run_reputation, stored_inputs
from orderflow.reputation.scores_sql import MIRROR, MIRROR_COLUMNS
from tests.reputation.builders import Ledger

_COPIES = ", ".join(f"i.{c}" for c in MIRROR_COLUMNS)


async def test_only_the_moved_copies_are_written(pool: asyncpg.Pool) -> None:
    led = Ledger()
    for who in range(1, 9):
        led.trade(who, "BUY", "20", "0.40", market_no=who % 3, at=timedelta(hours=who),
                  taker_aggregate=True)  # fmt: skip
    led.resolve(0, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    assert not (await run_reputation(pool)).incremental
    async with pool.acquire() as conn, conn.transaction():
        # what an upsert wrote: every stored row as it is, one wallet's score moved
        await conn.execute(
            f"""CREATE TEMP TABLE rep_scores ON COMMIT DROP AS
                SELECT i.idx, ws.reputation_score AS score, ws.trader_tier AS tier, ws.flags
                  FROM {stored_inputs.INPUTS} i
                  JOIN orderflow_wallet_stats ws ON ws.wallet_address = i.wallet_address"""
        )
        moved = await conn.fetchval("SELECT min(idx) FROM rep_scores")
        await conn.execute("UPDATE rep_scores SET score = score + 1 WHERE idx = $1", moved)
        written = await conn.fetchval("SELECT count(*) FROM rep_scores")
        assert written >= 8
        before = dict(await conn.fetch(f"SELECT idx, ctid::text FROM {stored_inputs.STANDING}"))

        await stored_inputs.mirror(conn)

        after = dict(await conn.fetch(f"SELECT idx, ctid::text FROM {stored_inputs.STANDING}"))
        rewritten = {idx for idx, at in after.items() if before[idx] != at}
        assert rewritten == {moved}  # every row's copy before: all of them
        differ = await conn.fetchval(
            f"""SELECT count(*) FROM {stored_inputs.STANDING} i
                  JOIN (SELECT ws.idx, {MIRROR}
                          FROM (SELECT idx, score AS reputation_score, tier AS trader_tier,
                                       flags FROM rep_scores) ws) m ON m.idx = i.idx
                 WHERE ({_COPIES}) IS DISTINCT FROM
                       ({", ".join(f"m.{c}" for c in MIRROR_COLUMNS)})"""
        )
        assert differ == 0
