"""Where the node's batch looks for a row an import stored at a wrong block (``store_replace``,
migration 070 ``orderflow_writer_txs``).

The node's rows in partition 0, an import's in partitions 1-5 (a few hundred each, analyzed, so
that they are planned as a database's), or the same with the history in place when migration
070 runs: the node's batch of transactions no import stored reads none of the imported
partitions (main searched every one of them, for every batch: a probe per transaction per
partition); a transaction an import stored at a wrong block four partitions away is still
replaced by the node's log, and an import after the node's log still stores no second copy.
Partitions read: each partition's sequential and index scans, counted by PostgreSQL's statistics
around the one batch (the match links' statement reads the first partition: store_sql.
LINK_MATCHES, not restricted to the batch's blocks).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow import db
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import StoreStats, store_batch
from orderflow.migrate import migrate, migrations_dir
from tests.chain.factory import h32
from tests.chain.hostile import fill

IMPORTED = range(1, 6)  # the partitions an import stored rows in
FILL = 200  # imported rows of each partition besides the test's
# Reads of each partition of the trades (a sequential scan or an index's).
_SCANS = """
SELECT s.relname AS name, s.seq_scan + coalesce(s.idx_scan, 0) AS scans
  FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
 WHERE i.inhparent = 'orderflow_trades'::regclass
"""


async def _span(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT orderflow_partition_blocks()"))
    finally:
        await conn.close()


async def _import(dsn: str, logs: list[dict[str, Any]]) -> None:
    """An import's rows, through a pool of its own closed after (its statistics flushed), with
    partitions that hold more than a few rows: the planner reads them as a database's, through
    their indexes."""
    span = await _span(dsn)
    parts = {int(raw["blockNumber"], 16) // span for raw in logs}
    filler = [fill(p * span + 1000 + i, 1, 1000 * (p + 1) + i) for p in parts for i in range(FILL)]
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        await ingest_logs(pool, filler + logs, chain_id=137)
        await pool.execute("ANALYZE orderflow_trades")
    finally:
        await pool.close()


async def _scans(conn: asyncpg.Connection) -> dict[str, int]:
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return {r["name"]: int(r["scans"]) for r in await conn.fetch(_SCANS)}


async def _node(dsn: str, logs: list[dict[str, Any]]) -> tuple[StoreStats, set[str]]:
    """The node's batch of ``logs``, and the partitions of the trades it read."""
    watch, conn = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        before = await _scans(watch)
        stats = await store_batch(conn, decode_batch(logs, 137), chain_id=137, authoritative=True)
        await conn.execute("SELECT pg_stat_force_next_flush()")  # flushed before it answers
        after = await _scans(watch)
    finally:
        await conn.close()
        await watch.close()
    read = {name for name, n in after.items() if n > before.get(name, 0)}
    return stats, read


def _tx(n: int) -> str:
    return h32(f"7{n:x}")  # tests.chain.factory.at's transaction hashes


async def _rows(dsn: str, *txs: int) -> list[tuple[int, int]]:
    """The (block, log index) of the trades of transactions ``txs``."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT block_number, log_index FROM orderflow_trades WHERE tx_hash = ANY($1::text[])"
            " ORDER BY block_number, log_index",
            [_tx(n) for n in txs],
        )
        return [(r[0], r[1]) for r in rows]
    finally:
        await conn.close()


async def _letters(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r[0] for r in await conn.fetch("SELECT reason FROM orderflow_dead_letters")]
    finally:
        await conn.close()


def _names(parts: range) -> set[str]:
    return {f"orderflow_trades_p{p:04d}" for p in parts}


async def _history(dsn: str, *extra: dict[str, Any]) -> int:
    """The node's rows in partition 0, then an import's in partitions 1-5 (and ``extra``);
    returns the partitions' size in blocks."""
    span = await _span(dsn)
    await _node(dsn, [fill(5, 1, 99)])
    await _import(dsn, [fill(p * span + 5, 1, 100 + p) for p in IMPORTED] + list(extra))
    return span


async def test_the_nodes_new_transactions_read_no_imported_partition(dsn: str) -> None:
    """An import's rows in five partitions, then the node's batch of two transactions no
    import stored anywhere: none of those partitions is read for them."""
    span = await _history(dsn)
    new = 6 * span + 5
    stats, read = await _node(dsn, [fill(new, 1, 1), fill(new, 2, 2)])
    assert stats.trades == 2
    assert sorted(read & _names(IMPORTED)) == []


async def test_a_row_imported_partitions_away_is_replaced(dsn: str) -> None:
    """Transaction 7 imported at a block of partition 1, among rows in five partitions; the
    node's log of it is at a block of partition 5: the imported row is replaced (a dead letter
    naming it)."""
    real = 5 * await _span(dsn) + 9
    wrong = real - 4 * await _span(dsn)
    await _history(dsn, {**fill(real, 2, 7), "blockNumber": hex(wrong)})  # the dump's block
    assert await _rows(dsn, 7) == [(wrong, 2)]

    stats, _ = await _node(dsn, [fill(real, 2, 7), fill(real, 3, 8)])
    assert (stats.trades, stats.replaced_trades) == (2, 1)
    assert await _rows(dsn, 7, 8) == [(real, 2), (real, 3)]
    (letter,) = await _letters(dsn)
    assert f"stored at block {wrong} " in letter
    assert f"is the node's log of block {real}" in letter and "replaced by the node's" in letter


async def test_an_import_after_the_node_naming_a_block_partitions_away_is_a_dead_letter(
    dsn: str,
) -> None:
    """The node's log of transaction 7 at a block of partition 5 first, then an import naming a
    block of partition 1 for it: a dead letter, no second copy."""
    real = 5 * await _span(dsn) + 9
    await _node(dsn, [fill(real, 2, 7)])
    await _history(dsn, {**fill(real, 2, 7), "blockNumber": hex(real - 4 * await _span(dsn))})
    assert await _rows(dsn, 7) == [(real, 2)]
    (letter,) = await _letters(dsn)
    assert f"is stored at block {real} (the row names a wrong block)" in letter


async def _before_070(dsn: str) -> None:
    """The database as migration 070 finds it: rows in place, migration 066's spans seeded
    with every partition holding one (who wrote them not recorded)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("DROP TABLE orderflow_writer_txs")
            await conn.execute("DROP FUNCTION orderflow_tx_key")
            await conn.execute("DELETE FROM orderflow_schema_migrations WHERE version = 70")
            await conn.execute((migrations_dir() / "066_writer_spans.sql").read_text())
        assert await conn.fetchval("SELECT count(*) FROM orderflow_writer_spans") == 2
        assert await migrate(conn) == ["070_writer_txs.sql"]
    finally:
        await conn.close()


async def test_a_migrated_database_still_finds_a_misplaced_row(dsn: str) -> None:
    """History in place when migration 070 runs: every stored (transaction, block) is seeded as
    either kind's; the node's new transactions probe no partition, and the row imported at a
    wrong block before the migration is still replaced."""
    span = await _span(dsn)
    real, wrong = 5 * span + 9, span + 9
    await _history(dsn, {**fill(real, 2, 7), "blockNumber": hex(wrong)})
    await _before_070(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        seeded = await conn.fetch("SELECT DISTINCT tx_key >> 62 FROM orderflow_writer_txs")
        assert [r[0] for r in seeded] == [1]  # either kind's
        assert await conn.fetchval("SELECT to_regclass('orderflow_writer_spans')") is None
    finally:
        await conn.close()

    new = 6 * span + 5
    stats, read = await _node(dsn, [fill(new, 1, 1), fill(new, 2, 2)])
    assert (stats.trades, sorted(read & _names(IMPORTED))) == (2, [])
    stats, _ = await _node(dsn, [fill(real, 2, 7)])
    assert (stats.trades, stats.replaced_trades) == (1, 1)
    assert await _rows(dsn, 7) == [(real, 2)]


async def test_an_import_after_the_nodes_replay_of_an_imported_row_is_a_dead_letter(
    dsn: str,
) -> None:
    """Transaction 7 imported at its real block, the node's log of it then stores nothing (a
    replay), and a second import names a block four partitions away: a dead letter, no second
    copy (the node's replay records its pair under the node's code: the import's pair, at the
    import's, is not what an import's search reads)."""
    real = 5 * await _span(dsn) + 9
    await _history(dsn, fill(real, 2, 7))
    stats, _ = await _node(dsn, [fill(real, 2, 7)])
    assert (stats.trades, stats.replaced_trades) == (0, 0)
    await _import(dsn, [{**fill(real, 2, 7), "blockNumber": hex(real - 4 * await _span(dsn))}])
    assert await _rows(dsn, 7) == [(real, 2)]
    (letter,) = await _letters(dsn)
    assert f"is stored at block {real} (the row names a wrong block)" in letter


async def test_transactions_sharing_a_key_cost_a_search_not_a_row(dsn: str) -> None:
    """Two transactions whose hashes end alike (the same tx_key, orderflow_tx_key: the last 16
    hex digits): one imported, the other the node's at another block. The node's batch searches
    (its key is in the import's record elsewhere) and finds nothing to replace: both fills
    stay, each at its block."""
    span = await _span(dsn)
    imported = {**fill(span + 9, 2, 7), "transactionHash": "0xaa" + _tx(7)[4:]}
    await _history(dsn, imported)
    assert (
        imported["transactionHash"] != _tx(7) and imported["transactionHash"][-16:] == _tx(7)[-16:]
    )
    stats, read = await _node(dsn, [fill(5 * span + 9, 2, 7)])
    assert (stats.trades, stats.replaced_trades) == (1, 0)
    assert _names(range(1, 2)) <= read  # the search: the imported key's partition
    assert await _rows(dsn, 7) == [(5 * span + 9, 2)]
    assert await _letters(dsn) == []


_RECORD_SCANS = (
    "SELECT coalesce(idx_scan, 0) + seq_scan FROM pg_stat_user_tables WHERE relname = $1"
)


async def test_an_import_the_node_never_wrote_beside_looks_nothing_up(dsn: str) -> None:
    """An import of 60 transactions (and FILL more) into a database where the node recorded
    nothing: its lookup reads the record's two codes' ranges once (empty), not each key; an
    import after the node's batch looks its transactions up (and a misplaced one is refused)."""
    span = await _span(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        before = int(await conn.fetchval(_RECORD_SCANS, "orderflow_writer_txs"))
        await _import(dsn, [fill(span + 9 + i, 1, 300 + i) for i in range(60)])
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        looked = int(await conn.fetchval(_RECORD_SCANS, "orderflow_writer_txs")) - before
        recorded = int(await conn.fetchval("SELECT count(*) FROM orderflow_writer_txs"))
        # the record's insert checks each pair's key (PostgreSQL counts that as a scan); the
        # lookup adds a probe of each code's range, not one per transaction and code
        assert recorded == 60 + FILL and looked <= recorded + 4
    finally:
        await conn.close()
    await _node(dsn, [fill(5 * span + 9, 2, 7)])
    await _import(dsn, [{**fill(5 * span + 9, 2, 7), "blockNumber": hex(span + 20)}])
    assert await _rows(dsn, 7) == [(5 * span + 9, 2)]
    assert len(await _letters(dsn)) == 1


async def _imported(dsn: str, logs: list[dict[str, Any]]) -> set[str]:
    """An import's batch of ``logs`` (no filler), and the partitions of the trades it read."""
    watch = await asyncpg.connect(dsn)
    pool = await db.create_pool(dsn, min_size=1, max_size=2)
    try:
        before = await _scans(watch)
        await ingest_logs(pool, logs, chain_id=137)
        await pool.execute("SELECT pg_stat_force_next_flush()")
    finally:
        await pool.close()
    try:
        after = await _scans(watch)
    finally:
        await watch.close()
    return {name for name, n in after.items() if n > before.get(name, 0)}


async def test_a_second_import_naming_a_block_partitions_away_is_a_dead_letter(dsn: str) -> None:
    """Transaction 7 imported at a block of partition 5, then a dump naming a block of
    partition 1 for it: the first stays, the second is a dead letter naming both blocks, and
    the search read partition 5 only of the imported ones."""
    span = await _history(dsn)
    real, wrong = 5 * span + 9, span + 9
    await _imported(dsn, [fill(real, 2, 7)])
    read = await _imported(dsn, [{**fill(real, 2, 7), "blockNumber": hex(wrong)}])
    assert await _rows(dsn, 7) == [(real, 2)]
    (letter,) = await _letters(dsn)
    assert f"at block {wrong}," in letter and f"is stored at block {real} " in letter, letter
    assert sorted(read & _names(range(2, 5))) == []


async def test_an_imports_new_transactions_read_no_imported_partition(dsn: str) -> None:
    """An import's rows in five partitions, then another import's batch of two transactions no
    writer stored: its search of the imports' record reads none of those partitions."""
    span = await _history(dsn)
    new = 6 * span + 5
    read = await _imported(dsn, [fill(new, 1, 1), fill(new, 2, 2)])
    assert await _rows(dsn, 1, 2) == [(new, 1), (new, 2)]
    assert sorted(read & _names(IMPORTED)) == []
