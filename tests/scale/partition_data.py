"""Partitions of ``orderflow_trades`` filled for the pruning tests, and what their plans touch.

Months of fills (40 a month, 18 hours apart, two wallets, two tokens) in the partitions the
store's own SQL function makes; plans are PostgreSQL's own (``EXPLAIN ANALYZE``): a partition
counts as touched when its scan ran (pruned at plan or run time: left out).
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from orderflow.chain import partitions, pruning
from tests.plans import nodes, plan_of

PER_PARTITION = 1_296_000  # 30 days of 2-second blocks
FIRST = 50 * PER_PARTITION


async def layout(conn: asyncpg.Connection, months: int) -> None:
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


def name(m: int) -> str:
    return partitions.name_of(50 + m)


async def scanned(conn: asyncpg.Connection, query: str, *args: object) -> set[str]:
    """Partitions the executed plan touched (pruned at plan or run time are left out: a
    partition never executed has no loops)."""
    return {
        rel
        for node, _ in nodes(await plan_of(conn, query, *args))
        if isinstance(rel := node.get("Relation Name"), str)
        and rel.startswith("orderflow_trades_p")
        and node.get("Actual Loops", 1)
    }


def at_fill(i: int) -> datetime:
    """The time of fill ``i`` of the layout (fills are 18 hours apart, 40 a month)."""
    return datetime.fromtimestamp(1700000000 + i * 64800, UTC)


async def subplans(conn: asyncpg.Connection, query: str, *args: object) -> dict[str, set[str]]:
    """Partitions executed under each subplan of the plan ("" for the main query)."""
    found: dict[str, set[str]] = {}
    for node, under in nodes(await plan_of(conn, query, *args)):
        rel = node.get("Relation Name")
        if isinstance(rel, str) and rel.startswith("orderflow_trades_p"):
            touched = found.setdefault(under[-1] if under else "", set())
            if node.get("Actual Loops"):
                touched.add(rel)
    return found


async def same_rows(conn: asyncpg.Connection, query: str, *args: object) -> list[asyncpg.Record]:
    """The statement's rows, checked equal to those of the statement without its bounds."""
    rows: list[asyncpg.Record] = await conn.fetch(query, *args)
    assert rows == await conn.fetch(pruning.without_bounds(query), *args)
    return rows


async def live(
    conn: asyncpg.Connection, first: int, count: int, block: int, at: int, wallet: str = "cc"
) -> None:
    """``count`` fills from index ``first`` at block ``block`` on, stamped from fill ``at``'s time
    (a history import: old blocks, new ids; or a stamp out of its partition's order)."""
    await conn.execute(
        """
        INSERT INTO orderflow_trades (chain_id, tx_hash, log_index, block_number, block_hash,
            timestamp, exchange, exchange_version, order_hash, wallet_address, taker_address,
            is_taker_aggregate, side, token_id, price, size, usdc_size, fee_asset)
        SELECT 137, '0x' || lpad(to_hex(i), 64, '0'), 1, $2::bigint + i - $1,
               '0x' || lpad(to_hex(i), 64, 'b'), $3::timestamptz + (i - $1) * interval '1 hour',
               '0x' || repeat('e1', 20), 'V2', '0x' || lpad(to_hex(i), 64, 'c'),
               '0x' || repeat($5, 20), '0x' || repeat('e1', 20), i % 2 = 0, 'SELL', 1,
               0.25, 4, 1, 'COLLATERAL'
          FROM generate_series($1::int, $1::int + $4::int - 1) AS i
        """,
        first,
        block,
        at_fill(at),
        count,
        wallet,
    )


async def move_ids_to(conn: asyncpg.Connection, last: int) -> int:
    await conn.execute("SELECT setval(pg_get_serial_sequence('orderflow_trades', 'id'), $1)", last)
    return last


def months(*ms: int) -> set[str]:
    return {name(m) for m in ms}
