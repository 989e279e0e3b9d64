"""A fill stamped after a live run's cut-off, stored while the run is under way, is taken by the
next run: the hourly incremental runs end where a full recompute does.

A live run's cut-off is its transaction's start (``now()``); it reads the per-(wallet, token)
sums only when no fill is stamped after it (``sums_sql.SUMS_MAY_MISS_FILLS``), checked once at
its start (a fill stamped ahead and stored before that makes it scan the trades). The listener
keeps storing meanwhile, and a block mined after the run began (or stamped ahead of the database
clock) is stamped after the cut-off. Stored after that check but before the run takes the changed
keys, it is in the sums the run reads while every statement that reads trades gates it out (the
closing lines and marks, the voided fills, the counterparty and COPIER cells). The counterparty
and COPIER cells keep such a fill's buckets logged for the next run (``orderflow_wash_dirty``),
but the key's change was taken: no later incremental run recomputed the token's mark and closing
line with the fill (before: its holders' ``unrealized_pnl`` and the stored marks differed from a
full recompute's, after an incremental or a live full run alike).

The test stores right after the run's check (its ``_stored``, wrapped) a leader's buy and a copy
of it through the listener's pipeline, re-stamped a microsecond and two after the run's cut-off
(the test chain's block times are whole seconds; a microsecond past the cut-off is already past
the clock, so the next run's cut-off is later with no waiting), runs again, and compares
everything stored with a full recompute.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import RunSummary, run, run_reputation
from orderflow.reputation.copy_state import CELLS
from tests.reputation.population import World, skilled_taker
from tests.reputation.test_copy_state import _same_as_full
from tests.reputation.test_incremental_run import close, persisted

_STORED = (
    "SELECT * FROM orderflow_reputation_closes ORDER BY token_id",
    "SELECT * FROM orderflow_reputation_wash ORDER BY 1, 2",
    "SELECT * FROM orderflow_reputation_issues ORDER BY kind, token_id",
)


async def _run_storing_after_its_check(
    pool: asyncpg.Pool,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: Callable[[datetime], Awaitable[None]],
    full: bool,
) -> RunSummary:
    """A live run during which ``meanwhile(cut-off)`` stores (other connections, committed) right
    after the run checked for fills stamped after its cut-off (``run._stored``, the real one)."""
    checked = run._stored

    async def check_then_store(
        conn: asyncpg.Connection, as_of: datetime | None, cutoff: datetime
    ) -> bool:
        stored = await checked(conn, as_of, cutoff)
        await meanwhile(cutoff)
        return stored

    with monkeypatch.context() as m:
        m.setattr(run, "_stored", check_then_store)
        return await run_reputation(pool, full=full)


async def _stored(pool: asyncpg.Pool) -> list[list[Any]]:
    return [[tuple(r) for r in await pool.fetch(q)] for q in _STORED]


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
async def test_a_fill_stamped_after_the_cutoff_is_taken_by_the_next_run(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, full: bool
) -> None:
    """``full``: the run during which the fills are stored is a live full one (it takes every
    change before it reads the sums)."""
    w = World(seed=47, markets=8, neg_risk_events=0, favourites=1, makers=2)
    leader, copier = w.new_wallet(), w.new_wallet()
    spec = w.pick(1, binary_only=True)[0]
    w.take(spec, spec.opens + 60, leader, 0, 100.0)
    w.take(spec, spec.opens + 90, copier, 0, 100.0)
    for _ in range(4):
        skilled_taker(w, w.new_wallet(), 3, 0.5)
    await w.chain.ingest(pool)  # no market resolved: the marks value every open position
    assert not (await run_reputation(pool)).incremental
    summary = await run_reputation(pool)  # the counterparty and COPIER cells built
    assert summary.incremental and summary.copy_cells == "rebuilt"

    async def store(cutoff: datetime) -> None:
        """The leader buys again at 0.95 and the copier after it, stored now, stamped after the
        run's cut-off (the buys' blocks mined after the run began)."""
        last = await pool.fetchval("SELECT max(id) FROM orderflow_trades")
        t = spec.opens + 3000
        w.take(spec, t, leader, 0, 120.0, price=0.95)
        w.take(spec, t + 30, copier, 0, 120.0, price=0.96)
        await w.chain.ingest(pool)
        txs = await pool.fetch(
            "SELECT tx_hash FROM orderflow_trades WHERE id > $1 GROUP BY tx_hash ORDER BY min(id)",
            last,
        )
        assert len(txs) == 2
        for n, (tx_hash,) in enumerate(txs, start=1):
            await pool.execute(
                "UPDATE orderflow_trades SET timestamp = $1 WHERE tx_hash = $2",
                cutoff + timedelta(microseconds=n),
                tx_hash,
            )

    held = await _run_storing_after_its_check(pool, monkeypatch, store, full)
    assert held.source == "sums" and held.incremental is not full
    # what the next run takes again: the buys' keys, and (cells kept) their buckets
    later_keys = """SELECT count(*) FROM orderflow_position_sums_changes c
                     WHERE EXISTS (SELECT 1 FROM orderflow_trades t WHERE t.timestamp > $1
                                      AND t.wallet_address = c.wallet_address
                                      AND t.token_id = c.token_id)"""
    assert await pool.fetchval(later_keys, held.as_of) >= 2  # the buyers' and their makers'
    later_buckets = "SELECT count(*) FROM orderflow_wash_dirty WHERE ts > $1"
    assert (await pool.fetchval(later_buckets, held.as_of) > 0) is not full
    later = await run_reputation(pool)  # its cut-off is past both buys
    # (after a full run that did not switch, the incremental one builds the cells)
    assert later.incremental and later.copy_cells == ("rebuilt" if full else "updated")
    assert later.as_of > held.as_of + timedelta(microseconds=2)

    rows, stored = await persisted(pool), await _stored(pool)
    copies = await _same_as_full(pool, min_markets=1)  # the COPIER cells: a build's
    trailing = f"SELECT count(*) FROM {CELLS} WHERE f = $1 AND l = $2 AND trail > 0"
    assert await pool.fetchval(trailing, copier, leader) == 2  # May's copy and the late one
    assert not (await run_reputation(pool, full=True)).incremental
    close(await persisted(pool), rows)
    for name, ours, theirs in zip(_STORED, stored, await _stored(pool), strict=True):
        assert ours == theirs, name
    assert copies
