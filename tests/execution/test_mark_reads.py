"""What the book's mark of an open position reads: the token's latest prints, not its history.

Every batch with a candidate or a sale reads the strategy's book (``position_queries.book_rows``):
each open position marked at its token's tape price (:mod:`orderflow.signals.tape`: the latest
:data:`~orderflow.signals.tape.TAPE_PRINTS` maker rows). The planner sizes a token's rows by the
average token (``token_id = <the position's>`` is a parameter of the subplan), so a token traded
far more than the average one — the popular markets the whales trade — had its whole history read
and sorted, per open position, per batch. Checked on the executed plan (``EXPLAIN ANALYZE``): the
rows the trades scans under the mark return or filter out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from orderflow.execution import position_queries
from orderflow.execution.daypnl import DayMarks, closed_day
from orderflow.execution.performance import day_start
from orderflow.signals.tape import TAPE_PRINTS

HOT = 999_999  # the popular token: a long history, and more than TAPE_PRINTS recent prints
OLD, RECENT = 4_000, 2 * TAPE_PRINTS

# maker rows (a maker and its taker, priced at a level), one block per row: 200 tokens of
# a hundred each from $1, and the popular token's OLD prints a year ago and RECENT ones this hour
_FILLS = """
INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash, timestamp,
    exchange, exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate,
    side, token_id, price, size, usdc_size, fee_asset)
SELECT 137, '0x' || lpad(to_hex(i), 64, '0'), 0, i, '0x' || lpad(to_hex(i), 64, 'b'), at,
       '0x' || repeat('e1', 20), 'V2', '0x' || lpad(to_hex(i), 64, 'c'),
       '0x' || lpad(to_hex(i % 97), 40, 'a'), '0x' || lpad(to_hex(i % 89), 40, 'b'), false,
       'BUY', token, 0.5, 10, 5, 'COLLATERAL'
  FROM (SELECT i, 1 + i % 200 AS token, now() - interval '1 day' - i * interval '1 second' AS at
          FROM generate_series(1, 20000) i
        UNION ALL
        SELECT 20000 + i, $1, now() - interval '365 days' + i * interval '1 second'
          FROM generate_series(1, $2::int) i
        UNION ALL
        SELECT 30000 + i, $1, now() - i * interval '1 second' FROM generate_series(1, $3::int) i
       ) f(i, token, at)
"""


async def _index_rows_read(conn: asyncpg.Connection, strategy: str) -> int:
    """Rows of orderflow_trades' partitions the book's statement fetched through an index (the
    transaction's own counts: inside functions too), its marks included."""
    async with conn.transaction():
        (row,) = await conn.fetch(position_queries.BOOK_ROWS, strategy)
        assert row["last_price"] == 0.5
        read = await conn.fetchval(
            "SELECT sum(idx_tup_fetch) FROM pg_stat_xact_user_tables"
            " WHERE relname LIKE 'orderflow_trades%'"
        )
    return int(read)


@pytest.mark.asyncio
async def test_the_mark_reads_the_latest_prints_not_the_tokens_history(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_FILLS, HOT, OLD, RECENT)
        await conn.execute("ANALYZE orderflow_trades")
        await conn.execute(
            "INSERT INTO orderflow_positions (strategy, token_id, shares, cost_basis)"
            " VALUES ('alpha', $1, 100, 50)",
            HOT,
        )
        read = await _index_rows_read(conn, "alpha")
        # the latest TAPE_PRINTS maker rows (and a few more: no more than twice as many)
        assert read <= 2 * TAPE_PRINTS, f"the mark read {read} rows of the token's trades"
    finally:
        await conn.close()


# The day's P&L (``daypnl.DayMarks.day``): each position open now or closed today is marked now,
# and at midnight when it had a fill before midnight. A position opened today has a zero
# midnight mark, whatever the tape read then: its price before midnight was read all the same,
# per position, per batch (the daily loss limit reads the day's P&L for every entry).
_MARKS_NOW = (
    f"SELECT {position_queries.LAST_PRICE} FROM orderflow_positions p WHERE p.strategy = $1"
)


async def _tape_reads(conn: asyncpg.Connection, read: Callable[[], Awaitable[object]]) -> int:
    """The tokens' latest prints ``read`` read (calls of ``orderflow_tape_latest``, migration
    092: a mark reads its token's and its complement's), in a transaction of its own."""
    calls = (
        "SELECT COALESCE(sum(calls), 0) FROM pg_stat_xact_user_functions"
        " WHERE funcname = 'orderflow_tape_latest'"
    )  # pending counts, which a transaction's end need not flush: the difference is its own
    async with conn.transaction():
        await conn.execute("SET LOCAL track_functions = 'all'")
        before = await conn.fetchval(calls)
        await read()
        return int(await conn.fetchval(calls)) - int(before)


async def _positions(conn: asyncpg.Connection, opened: list[tuple[int, datetime]]) -> None:
    """Strategy alpha's paper positions, one per (token, time of its one BUY of 10 at 0.50)."""
    await conn.execute(_FILLS, HOT, OLD, RECENT)
    order = await conn.fetchval(
        "INSERT INTO orderflow_signals (strategy, signal_type, status, chain_id, tx_hash,"
        " log_index, wallet_address, token_id, trigger_price, trade_time)"
        " VALUES ('alpha', 'FOLLOW_WHALE', 'EXECUTED', 137, '0x' || repeat('d1', 32), 0,"
        " '0x' || repeat('a1', 20), $1, 0.5, now()) RETURNING id",
        HOT,
    )
    order = await conn.fetchval(
        "INSERT INTO orderflow_orders (strategy, signal_id, mode, client_order_id, token_id,"
        " side, price, shares) VALUES ('alpha', $1, 'paper', 'c1', $2, 'BUY', 0.5, 10)"
        " RETURNING id",
        order,
        HOT,
    )
    for token, at in opened:
        pid = await conn.fetchval(
            "INSERT INTO orderflow_positions (strategy, token_id, shares, cost_basis, mode)"
            " VALUES ('alpha', $1, 10, 5, 'paper') RETURNING id",
            token,
        )
        await conn.execute(
            "INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key,"
            " token_id, side, price, shares, usdc, filled_at) VALUES ($1, $2, 'alpha',"
            " 'paper', $3, $4, 'BUY', 0.5, 10, 5, $5)",
            order,
            pid,
            f"f{token}",
            token,
            at,
        )


@pytest.mark.asyncio
async def test_the_day_reads_no_midnight_mark_of_a_position_opened_today(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    now = datetime.now(UTC)
    midnight = day_start(now)
    try:
        # two positions opened today (no fill before midnight), one yesterday
        await _positions(conn, [(HOT, now), (1, now), (2, midnight - timedelta(hours=1))])
        marks = DayMarks()
        day_reads = await _tape_reads(conn, lambda: marks.day(conn, "alpha", midnight))
        now_reads = await _tape_reads(conn, lambda: conn.fetch(_MARKS_NOW, "alpha"))
        # the three marks now, and the one position from yesterday's mark at midnight
        assert now_reads > 0
        assert day_reads == now_reads * 4 // 3, (
            f"the day read the tape {day_reads} times; its marks now {now_reads}"
        )
        # the figures: yesterday's position bought at 0.50 and marked at 0.50 both times
        assert (await marks.day(conn, "alpha", midnight)).total == 0
    finally:
        await conn.close()


# A past day's row (``daypnl.closed_day``, the performance row the maintenance pass closes):
# each position marked at the day's end, and at its start when it had a fill before it. A
# position opened during the day starts at zero: its price at the day's start is not read.
@pytest.mark.asyncio
async def test_a_past_day_reads_no_start_mark_of_a_position_opened_that_day(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    end = day_start(datetime.now(UTC))
    start = end - timedelta(days=1)
    try:
        # two positions opened during yesterday (no fill before its start), one the day before
        noon = start + timedelta(hours=12)
        await _positions(conn, [(HOT, noon), (1, noon), (2, start - timedelta(hours=1))])
        day_reads = await _tape_reads(conn, lambda: closed_day(conn, "alpha", start, end))
        now_reads = await _tape_reads(conn, lambda: conn.fetch(_MARKS_NOW, "alpha"))
        # the three marks at the day's end, and the one position from before its start's
        assert now_reads > 0
        assert day_reads == now_reads * 4 // 3, (
            f"the past day read the tape {day_reads} times; three marks read {now_reads}"
        )
        # the figures: the day before's position bought at 0.50 and marked at 0.50 both times
        day = await closed_day(conn, "alpha", start, end)
        assert day.pnl.total == 0
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_a_past_day_reads_no_end_mark_of_a_position_closed_that_day(dsn: str) -> None:
    """A position closed during the day is what it realized at the day's end: its price then is
    not read."""
    conn = await asyncpg.connect(dsn)
    end = day_start(datetime.now(UTC))
    start = end - timedelta(days=1)
    try:
        before = start - timedelta(hours=1)
        await _positions(conn, [(HOT, before), (1, before)])  # open before the day, both
        sold = await conn.fetchval(
            "UPDATE orderflow_positions SET status = 'CLOSED', shares = 0, cost_basis = 0,"
            " closed_at = $1 WHERE token_id = 1 RETURNING id",
            start + timedelta(hours=12),
        )
        await conn.execute(
            "INSERT INTO orderflow_fills (order_id, position_id, strategy, mode, fill_key,"
            " token_id, side, price, shares, usdc, filled_at) SELECT order_id, position_id,"
            " strategy, mode, 's1', token_id, 'SELL', 0.5, 10, 5, $2 FROM orderflow_fills"
            " WHERE position_id = $1",
            sold,
            start + timedelta(hours=12),
        )
        day_reads = await _tape_reads(conn, lambda: closed_day(conn, "alpha", start, end))
        now_reads = await _tape_reads(conn, lambda: conn.fetch(_MARKS_NOW, "alpha"))
        # both positions' marks at the day's start, the open one's at its end
        assert now_reads > 0
        assert day_reads == now_reads * 3 // 2, (
            f"the past day read the tape {day_reads} times; two marks read {now_reads}"
        )
        day = await closed_day(conn, "alpha", start, end)
        assert day.pnl.total == 0
        assert day.pnl.realized == 0
    finally:
        await conn.close()
