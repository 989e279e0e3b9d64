"""The partitioned trades table of migration 012 (docs/scaling.md §3.4): which queries prune.

Run against the real migrated ``orderflow_trades`` (partitions made by the same SQL function the
store calls); the plans are PostgreSQL's own (EXPLAIN ANALYZE), so the claims of §3.4 are checked
against the real planner rather than asserted in prose. The store's own rollback statement is
the one explained.
"""

from __future__ import annotations

import json

import asyncpg
import pytest

from orderflow.chain import partitions
from orderflow.chain import store_sql as sql

PER_PARTITION = 1_296_000  # 30 days of 2-second blocks
FIRST = 50 * PER_PARTITION


async def _layout(conn: asyncpg.Connection, months: int) -> None:
    assert await partitions.span_blocks(conn) == PER_PARTITION
    # the store's function makes each month's partition of orderflow_trades and orderflow_matches
    assert await partitions.ensure(conn, FIRST, FIRST + months * PER_PARTITION - 1) == 2 * months
    # 40 fills a month, two wallets, two tokens
    await conn.execute(
        """
        INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
            timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
            is_taker_aggregate, side, token_id, price, size, usdc_size, fee_asset)
        SELECT 137, '0x' || lpad(to_hex(i), 64, '0'), 0, $1::bigint + i * ($2::bigint / 40),
               '0x' || lpad(to_hex(i), 64, 'b'), to_timestamp(1700000000 + i * 64800),
               '0x' || repeat('e1', 20), 'V2', '0x' || lpad(to_hex(i), 64, 'c'),
               '0x' || repeat(CASE WHEN i % 2 = 0 THEN 'aa' ELSE 'bb' END, 20),
               '0x' || repeat('e1', 20), false, 'BUY', 1 + i % 2, 0.5, 10, 5, 'COLLATERAL'
          FROM generate_series(0, $3::int * 40 - 1) AS i
        """,
        FIRST,
        PER_PARTITION,
        months,
    )
    await conn.execute("ANALYZE orderflow_trades")


def _name(m: int) -> str:
    return partitions.name_of(50 + m)


async def _scanned(conn: asyncpg.Connection, query: str, *args: object) -> set[str]:
    """Partitions the executed plan touched (pruned at plan or run time are left out)."""
    plan = json.loads(
        await conn.fetchval(f"EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) {query}", *args)
    )
    found: set[str] = set()

    def walk(node: dict[str, object]) -> None:
        rel = node.get("Relation Name")
        # a partition never executed (Actual Loops 0) was pruned at run time
        if (
            isinstance(rel, str)
            and rel.startswith("orderflow_trades_p")
            and node.get("Actual Loops", 1)
        ):
            found.add(rel)
        for child in node.get("Plans", []):  # type: ignore[union-attr]
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def _rollback_scanned(conn: asyncpg.Connection, from_block: int) -> set[str]:
    """The store's own rollback DELETE, explained and executed, then undone."""
    tr = conn.transaction()
    await tr.start()
    try:
        return await _scanned(conn, sql.DELETE_TRADES, 137, from_block)
    finally:
        await tr.rollback()


@pytest.mark.asyncio
async def test_queries_that_bound_the_block_prune_to_their_partitions(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=6)
        newest = FIRST + 5 * PER_PARTITION
        # a token's recent trades, bounded by block: the newest partition only
        recent = await _scanned(
            conn,
            "SELECT * FROM orderflow_trades WHERE token_id = $1 AND block_number >= $2"
            " ORDER BY timestamp DESC LIMIT 20",
            1,
            newest,
        )
        assert recent == {_name(5)}
        # rollback of a reorg near the head (the store's statement): the newest partition only
        assert await _rollback_scanned(conn, newest + 100) == {_name(5)}
        # ... and across a partition boundary: the two partitions it spans
        assert await _rollback_scanned(conn, newest - 100) == {_name(4), _name(5)}
        # an --as-of scoring scan: the partitions up to the as-of block (partition 0, for
        # development chains, is empty here but not pruned: it is below the bound)
        as_of = await _scanned(
            conn, "SELECT wallet_address, count(*) FROM orderflow_trades"
            " WHERE block_number < $1 GROUP BY 1", FIRST + 2 * PER_PARTITION
        )  # fmt: skip
        assert as_of == {partitions.name_of(0), _name(0), _name(1)}
        # a wallet's history without a block bound: every partition (an index probe in each)
        wallet = await _scanned(
            conn, "SELECT * FROM orderflow_trades WHERE wallet_address = $1"
            " ORDER BY timestamp DESC LIMIT 5", "0x" + "aa" * 20
        )  # fmt: skip
        assert len(wallet) >= 1  # Merge Append may stop early; never wrong rows
        rows = await conn.fetch(
            "SELECT block_number FROM orderflow_trades WHERE wallet_address = $1"
            " ORDER BY timestamp DESC LIMIT 5",
            "0x" + "aa" * 20,
        )
        assert [r["block_number"] for r in rows] == sorted(
            (r["block_number"] for r in rows), reverse=True
        )
        # ... and with a block bound too, it prunes like the token's
        bounded = await _scanned(
            conn, "SELECT * FROM orderflow_trades WHERE wallet_address = $1"
            " AND block_number >= $2 ORDER BY timestamp DESC LIMIT 5", "0x" + "aa" * 20, newest
        )  # fmt: skip
        assert bounded == {_name(5)}
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_old_month_detaches_and_the_rest_keeps_working(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=3)
        before = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        detached = await partitions.detach(conn, _name(0))  # CONCURRENTLY
        assert [(p.name, p.attached) for p in detached] == [
            (_name(0), False),
            (partitions.name_of(50, "orderflow_matches"), False),
        ]
        after = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        assert (before, after) == (120, 80)
        # the detached month is a plain table with its rows, ready for pg_dump / a cold tablespace
        assert await conn.fetchval(f"SELECT count(*) FROM {_name(0)}") == 40
        listed = {p.name: p for p in await partitions.partitions(conn)}
        assert not listed[_name(0)].attached and listed[_name(1)].attached
        # the queries that matter still run on what remains
        assert await _rollback_scanned(conn, FIRST + 2 * PER_PARTITION) == {_name(2)}
        wallet = await conn.fetchval(
            "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", "0x" + "aa" * 20
        )
        assert wallet == 40
        # a writer reaching the archived range is told so instead of storing half a month
        with pytest.raises(asyncpg.RaiseError, match="not attached"):
            await partitions.ensure(conn, FIRST + 5, FIRST + 5)
        # and it can come back (re-attach validates the range with one scan of that table only)
        assert all(p.attached for p in await partitions.attach(conn, _name(0)))
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == before
        # identity: the same log twice is one row (ON CONFLICT on the partition key's identity)
        status = await conn.execute(
            """
            INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
                timestamp, exchange, exchange_version, order_hash, wallet_address,
                taker_address, is_taker_aggregate, side, token_id, price, size, usdc_size,
                fee_asset)
            SELECT chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
                   exchange_version, order_hash, wallet_address, taker_address,
                   is_taker_aggregate, side, token_id, price, size, usdc_size, fee_asset
              FROM orderflow_trades WHERE block_number < $1
            ON CONFLICT (chain_id, block_number, log_index) DO NOTHING
            """,
            FIRST + PER_PARTITION,
        )
        assert status == "INSERT 0 0"
    finally:
        await conn.close()
