"""The per-partition covers behind the readers' block bounds (migration 018): kept by concurrent
writers without waiting, folded, forgotten on detach, recomputed on attach; a partition attached
by hand turns the bounds off rather than hiding its rows."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from orderflow.backtest import history
from orderflow.chain import partitions
from orderflow.signals import queries as signals
from tests.scale.partition_data import (
    FIRST,
    PER_PARTITION,
    at_fill,
    layout,
    live,
    months,
    move_ids_to,
    name,
    same_rows,
    scanned,
)


@pytest.mark.asyncio
async def test_a_partition_attached_by_hand_disables_the_bounds_until_refreshed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=4)
        early = (at_fill(5), at_fill(30))
        assert await scanned(conn, history._TRADES, *early) == months(0)
        # detached with the tool (its range is forgotten), written to while detached, attached
        # back by hand: no range, so no bound at all, and the rows are read
        await partitions.detach(conn, name(3))
        await conn.execute(
            f"UPDATE {name(3)} SET timestamp = $1 WHERE block_number = $2",
            at_fill(10),
            FIRST + 3 * PER_PARTITION,
        )
        await conn.execute(
            f"ALTER TABLE orderflow_trades ATTACH PARTITION {name(3)}"
            f" FOR VALUES FROM ({FIRST + 3 * PER_PARTITION}) TO ({FIRST + 4 * PER_PARTITION})"
        )
        assert await scanned(conn, history._TRADES, *early) == {
            partitions.name_of(0),
            *months(0, 1, 2, 3),
        }
        rows = await same_rows(conn, history._TRADES, *early)
        assert len(rows) == 26
        # the refresh (what `partitions attach` runs) recomputes it: pruning again, same rows
        assert await conn.fetchval("SELECT orderflow_trade_ranges_refresh()") == 5
        assert await scanned(conn, history._TRADES, *early) == months(0, 1, 2, 3)
        assert await same_rows(conn, history._TRADES, *early) == rows
        # detach and attach with the tool: the range comes back with the partition
        await partitions.detach(conn, name(3))
        await partitions.attach(conn, name(3))
        assert await scanned(conn, history._TRADES, *early) == months(0, 1, 2, 3)
        assert await same_rows(conn, history._TRADES, *early) == rows
        late = (at_fill(100), at_fill(110))
        assert await scanned(conn, history._TRADES, *late) == months(2, 3)  # month 3's odd fill
        # a partition made for new blocks starts empty: it bounds nothing away
        await partitions.ensure(conn, FIRST + 4 * PER_PARTITION, FIRST + 4 * PER_PARTITION)
        assert await scanned(conn, history._TRADES, *late) == months(2, 3)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_two_writers_of_a_partition_never_wait_and_its_cover_folds(dsn: str) -> None:
    a = await asyncpg.connect(dsn)
    b = await asyncpg.connect(dsn)
    try:
        await layout(a, months=2)
        tr = a.transaction()
        await tr.start()
        await move_ids_to(a, 10_000)
        await live(a, 1000, 1, FIRST + 10, at=300)  # not committed yet, nor its cover
        # a second writer of the same partition does not wait for the first one's commit (another
        # wallet: the per-(wallet, token) sums of migration 011 would serialise the two)
        await asyncio.wait_for(live(b, 1100, 1, FIRST + 11, at=301, wallet="dd"), timeout=30)
        # statements beyond the cover (ids moved on past the 4,096 rounding, later stamps):
        # each appends a row; past 8 they are folded, never waiting either
        for k in range(12):
            await move_ids_to(b, 20_000 * (k + 1))
            await asyncio.wait_for(
                live(b, 2000 + k, 1, FIRST + 100 + k, at=310 + k, wallet="dd"), timeout=30
            )
        covers = "SELECT count(*) FROM orderflow_trade_partition_ranges WHERE relname = $1"
        assert await b.fetchval(covers, name(0)) <= 9
        await tr.commit()
        assert await b.fetchval(covers, name(0)) <= 10
        # every row of both writers is read through the bounds (month 0's late stamps make its
        # cover reach past month 1's; partition 0, empty, is below every bound)
        late = (at_fill(299), at_fill(400))
        assert len(await same_rows(b, history._TRADES, *late)) == 14
        assert await scanned(b, history._TRADES, *late) == months(0, 1)
        assert len(await same_rows(b, signals._NEW_TRADES, 5_000, 100)) == 14
        assert await scanned(b, signals._NEW_TRADES, 5_000, 100) == months(0, 1)
    finally:
        await a.close()
        await b.close()


@pytest.mark.asyncio
async def test_rows_loaded_without_triggers_need_a_refresh(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A load with the triggers off leaves a partition's cover as it was: a reader bounded by
    time skips the new rows until `orderflow db partitions refresh` recomputes the covers."""
    from orderflow.cli import main

    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=4)
        early = (at_fill(5), at_fill(30))
        rows = await same_rows(conn, history._TRADES, *early)
        # a row of month 3 moved into the early window behind the triggers' back
        await conn.execute("ALTER TABLE orderflow_trades DISABLE TRIGGER USER")
        await conn.execute(
            f"UPDATE {name(3)} SET timestamp = $1 WHERE block_number = $2",
            at_fill(10),
            FIRST + 3 * PER_PARTITION,
        )
        await conn.execute("ALTER TABLE orderflow_trades ENABLE TRIGGER USER")
        bounded = await conn.fetch(history._TRADES, *early)
        assert len(bounded) == len(rows)  # the stale cover hides the moved row
    finally:
        await conn.close()
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert await asyncio.to_thread(main, ["db", "partitions", "refresh"]) == 0
    assert "recomputed the time and id ranges of 5 trades partition(s)" in capsys.readouterr().out
    conn = await asyncpg.connect(dsn)
    try:
        found = await same_rows(conn, history._TRADES, *early)
        assert len(found) == len(rows) + 1
        assert name(3) in await scanned(conn, history._TRADES, *early)
    finally:
        await conn.close()
