"""The partitioned trades layout of docs/scaling.md §3: which queries prune, and cheap detaching.

The layout is built here on the migrated schema (the shipped columns, partitioned by block
range, identity (chain, block, log index)); the plans are PostgreSQL's own (EXPLAIN), so the
claims of §3.4 are checked against the real planner rather than asserted in prose.
"""

from __future__ import annotations

import json

import asyncpg
import pytest

PER_PARTITION = 1_296_000  # 30 days of 2-second blocks
FIRST = 50 * PER_PARTITION

LAYOUT = """
ALTER TABLE orderflow_trades RENAME TO orderflow_trades_flat;
CREATE TABLE orderflow_trades (
    LIKE orderflow_trades_flat INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY,
    PRIMARY KEY (chain_id, block_number, log_index)) PARTITION BY RANGE (block_number);
CREATE INDEX ON orderflow_trades (wallet_address, timestamp);
CREATE INDEX ON orderflow_trades (token_id, timestamp);
CREATE INDEX ON orderflow_trades (tx_hash);
"""


async def _layout(conn: asyncpg.Connection, months: int) -> None:
    await conn.execute(LAYOUT)
    for m in range(months):
        lo = FIRST + m * PER_PARTITION
        await conn.execute(
            f"CREATE TABLE orderflow_trades_m{m} PARTITION OF orderflow_trades"
            f" FOR VALUES FROM ({lo}) TO ({lo + PER_PARTITION})"
        )
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
            and rel.startswith("orderflow_trades_m")
            and node.get("Actual Loops", 1)
        ):
            found.add(rel)
        for child in node.get("Plans", []):  # type: ignore[union-attr]
            walk(child)

    walk(plan[0]["Plan"])
    return found


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
        assert recent == {"orderflow_trades_m5"}
        # rollback of a reorg near the head: the newest partition only
        rollback = await _scanned(
            conn, "SELECT count(*) FROM orderflow_trades WHERE chain_id = 137"
            " AND block_number >= $1", newest + 100
        )  # fmt: skip
        assert rollback == {"orderflow_trades_m5"}
        # an --as-of scoring scan: the partitions up to the as-of block
        as_of = await _scanned(
            conn, "SELECT wallet_address, count(*) FROM orderflow_trades"
            " WHERE block_number < $1 GROUP BY 1", FIRST + 2 * PER_PARTITION
        )  # fmt: skip
        assert as_of == {"orderflow_trades_m0", "orderflow_trades_m1"}
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
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_old_month_detaches_without_touching_the_others(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=3)
        before = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        await conn.execute("ALTER TABLE orderflow_trades DETACH PARTITION orderflow_trades_m0")
        after = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        assert (before, after) == (120, 80)
        # the detached month is a plain table with its rows, ready for pg_dump / a cold tablespace
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades_m0") == 40
        # and it can come back (re-attach validates the range with one scan of that table only)
        await conn.execute(
            f"ALTER TABLE orderflow_trades ATTACH PARTITION orderflow_trades_m0"
            f" FOR VALUES FROM ({FIRST}) TO ({FIRST + PER_PARTITION})"
        )
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
