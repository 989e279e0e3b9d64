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

import asyncpg
import pytest

from orderflow.execution import position_queries
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
