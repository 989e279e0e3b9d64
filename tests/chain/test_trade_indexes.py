"""Migration 016's cheaper indexes still serve their readers (docs/scaling.md §3.2).

``orderflow_trades_tx`` and ``orderflow_matches_tx`` are hash indexes on ``tx_hash`` and the
``_market`` indexes are gone. The readers of the transaction index are the store's own
statements, explained here (PostgreSQL's own plans, on the real migrated, partitioned tables with
rows in two partitions): each must read the trades and matches through the ``_tx`` index,
never by a sequential scan. Their results are covered by the store's tests (match links across
batches, fee refunds: test_store.py, test_fee_refunds*.py).
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from orderflow.chain import partitions
from orderflow.chain import refund_links as refunds
from orderflow.chain import store_sql as sql
from tests.plans import nodes, plan_of

EDGE = 61 * 1_296_000  # first block of partition 61
TXS = 4000  # four fills and one match per transaction, half of them in each partition
LOADED = ("_p0060", "_p0061")  # (the empty ones, such as partition 0, are read as they come)


def tx(i: int) -> str:
    return "0x" + f"{i:064x}"


async def _load(conn: asyncpg.Connection) -> None:
    await partitions.ensure(conn, EDGE - TXS, EDGE + TXS)
    await conn.execute(
        """
        INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
            timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
            is_taker_aggregate, side, token_id, price, size, usdc_size, fee, fee_asset)
        SELECT 137, '0x' || lpad(to_hex(i / 4), 64, '0'), i % 4, $1::bigint + i / 4,
               '0x' || repeat('b', 64), to_timestamp(1700000000 + i),
               '0x' || repeat('e1', 20), 'V1', '0x' || lpad(to_hex(i), 64, 'c'),
               '0x' || lpad(to_hex(i % 97), 40, 'a'), '0x' || repeat('e1', 20), i % 4 = 3,
               'BUY', 7 + i % 5, 0.5, 10, 5, 0.1, 'COLLATERAL'
          FROM generate_series(0, $2::int * 4 - 1) AS i
        """,
        EDGE - TXS // 2,
        TXS,
    )
    await conn.execute(
        """
        INSERT INTO orderflow_matches (chain_id, tx_hash, log_index, block_number, block_hash,
            timestamp, exchange, exchange_version, taker_order_hash, taker_wallet, side,
            token_id, price, size, usdc_size)
        SELECT 137, '0x' || lpad(to_hex(i), 64, '0'), 4, $1::bigint + i,
               '0x' || repeat('b', 64), to_timestamp(1700000000 + 4 * i),
               '0x' || repeat('e1', 20), 'V1', '0x' || lpad(to_hex(i), 64, 'd'),
               '0x' || repeat('aa', 20), 'BUY', 7, 0.5, 40, 20
          FROM generate_series(0, $2::int - 1) AS i
        """,
        EDGE - TXS // 2,
        TXS,
    )


def _literal(value: object) -> str:
    """``value`` as an SQL literal (the arguments of EXPLAIN EXECUTE)."""
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(_literal(v) for v in value) + "]"
    return f"'{value}'" if isinstance(value, str) else str(value)


async def _index_reads(
    conn: asyncpg.Connection, query: str, args: tuple[object, ...], generic: bool
) -> dict[str, set[str]]:
    """Table (partitioned parent) -> the indexes (their partitioned parents) through which the
    plan reads its loaded partitions, or the node type of a read that uses none. ``generic``:
    the plan of a prepared statement that no longer looks at its arguments (asyncpg prepares
    every statement; PostgreSQL switches to such a plan after five executions when it is not
    dearer)."""
    if generic:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE q AS {query}")
        try:
            execute = "EXECUTE q(" + ", ".join(_literal(a) for a in args) + ")"
            plan = await plan_of(conn, execute, analyze=False)
        finally:
            await conn.execute("DEALLOCATE q; RESET plan_cache_mode")
    else:
        plan = await plan_of(conn, query, *args, analyze=False)
    reads: dict[str, set[str]] = {}

    async def parent(index: str) -> str:
        return str(
            await conn.fetchval(
                "SELECT inhparent::regclass::text FROM pg_inherits"
                " WHERE inhrelid = $1::text::regclass",
                index,
            )
        )

    for node, _ in nodes(plan):
        rel = node.get("Relation Name")
        if isinstance(rel, str) and rel.endswith(LOADED):
            ways = reads.setdefault(rel.rsplit("_p", 1)[0], set())
            if node["Node Type"] == "Bitmap Heap Scan":
                ways |= {await parent(n["Index Name"]) for n, _ in nodes(node) if "Index Name" in n}
            elif "Index Name" in node:
                ways.add(await parent(node["Index Name"]))
            else:
                ways.add(node["Node Type"])
    return reads


async def test_the_transaction_indexes_are_hash_indexes_and_the_market_ones_gone(
    dsn: str,
) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await partitions.ensure(conn, EDGE, EDGE)  # a partition made after the migration
        for table in ("orderflow_trades", "orderflow_matches"):
            defs = {
                r["indexname"]: r["indexdef"]
                for r in await conn.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1", table
                )
            }
            assert f"{table}_market" not in defs
            assert defs[f"{table}_tx"].endswith("USING hash (tx_hash)")
            child = await conn.fetch(
                "SELECT indexdef FROM pg_indexes WHERE tablename = $1", f"{table}_p0061"
            )
            assert sum("USING hash (tx_hash)" in r["indexdef"] for r in child) == 1
            # no index keyed by the market (migration 072's partial index of fills whose token
            # was unknown names it in its predicate only)
            assert not any("btree (market_id" in r["indexdef"] for r in child)
    finally:
        await conn.close()


async def test_the_store_finds_transactions_through_the_tx_index(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _load(conn)
        txs = [tx(3), tx(TXS - 2)]  # one in each partition
        statements = [
            # cross-batch match links: the matches of the transactions, then their fills
            (sql.LINK_MATCHES, (137, txs), ("orderflow_trades", "orderflow_matches")),
            # fee refunds: the candidate fills of the transactions, then the fill refunded
            (refunds.SELECT_CANDIDATES, (137, txs), ("orderflow_trades",)),
            (
                refunds.APPLY,
                (137, txs, [9, 9], [1, 2], [Decimal("0.01")] * 2),
                ("orderflow_trades",),
            ),
        ]
        # before the partitions have statistics (a big import into a new one), then after
        for analyzed in (False, True):
            if analyzed:
                await conn.execute("ANALYZE orderflow_trades, orderflow_matches")
            for query, args, tables in statements:
                for generic in (False, True):
                    reads = await _index_reads(conn, query, args, generic)
                    for table in tables:
                        ways = reads[table]
                        # never a bitmap of the primary key's chain_id prefix (every row of the
                        # partition) ANDed with the transaction index, or instead of it
                        assert f"{table}_pkey" not in ways, (query, analyzed, generic, reads)
                        if query is refunds.APPLY and generic and not analyzed:
                            # a join with ~10 rows guessed for the unnest, on a partition
                            # without statistics: a scan (before 016: all of the primary key)
                            continue
                        # the transaction index alone
                        assert ways == {f"{table}_tx"}, (query, analyzed, generic, reads)
        # and the statements find the rows (what they do is the store tests' business)
        assert len(await conn.fetch(refunds.SELECT_CANDIDATES, 137, txs)) == 8
    finally:
        await conn.close()
