"""An hourly run's COPIER stage reads the taker buys around the change, not every one.

Before migration 077 the stage's statement (``tests/reputation/copy_reference.py``) read every
gated trade in every run, the incremental one too: a sequential scan of every partition of the
trades (docs/benchmarks.md "Copiers": 0.7 s of the 2.6 s small-change run at 100 k wallets).
Now the stored cells are updated around the changed trades, read by the token index
(``orderflow.reputation.copy_state``)."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import run_reputation
from tests.reputation.test_copiers import _skilled_buy, _world

# Scans of the trades' partitions and the tuples they read in this transaction.
_READ = """
SELECT coalesce(sum(s.seq_scan), 0) AS seq, coalesce(sum(s.seq_tup_read), 0) AS seq_read,
       coalesce(sum(s.idx_tup_fetch), 0) AS fetched
  FROM pg_inherits i JOIN pg_stat_xact_user_tables s ON s.relid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass
"""


async def _read_by_run(pool: asyncpg.Pool) -> dict[str, int]:
    """What an incremental run read of the trades: run inside a transaction of the test's (its
    own is a savepoint of it), whose statistics count its reads alone."""
    async with pool.acquire() as conn, conn.transaction():
        before = await conn.fetchrow(_READ)
        summary = await run_reputation(conn)
        assert summary.incremental
        after = await conn.fetchrow(_READ)
    was, now = dict(before), dict(after)
    return {k: int(now[k]) - int(was[k]) for k in now}


async def test_an_hourly_run_reads_only_the_buys_around_the_change(pool: asyncpg.Pool) -> None:
    w, leader, copier, _, _, late = _world(seed=92)
    await w.finish(pool)
    await run_reputation(pool)
    await run_reputation(pool)  # incremental: the counterparty and COPIER cells built
    await pool.execute("VACUUM ANALYZE orderflow_trades")
    trades = await pool.fetchval("SELECT count(*) FROM orderflow_trades")
    s = late[0]  # one more copy in one market
    t, outcome, q = _skilled_buy(w, s)
    w.take(s, t, leader, outcome, 150.0, price=q)
    w.take(s, t + 30.0, copier, outcome, 100.0, price=min(0.99, q + 0.01))
    await w.chain.ingest(pool)
    read = await _read_by_run(pool)
    # the change's buckets and their neighbours, the changed wallets' fills, the counterparty
    # region: a small part of the trades (on main: every one, by a scan of every partition)
    assert read["seq_read"] + read["fetched"] < trades / 4, (read, trades)
