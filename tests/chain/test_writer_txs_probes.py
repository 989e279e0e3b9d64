"""What a batch's search and record of the writers' transactions (``store_replace``, migration
070 ``orderflow_writer_txs``) cost in index probes, and that they record the same pairs.

An import beside an import (no node's pairs, none from before 070) probes one key per
transaction, not one per code its search reads: a code whose range of the key holds no pair is
probed as NULL, which the index skips. A batch of fills and matches records both kinds' pairs in
one statement: a match's pair, already its transaction's fills', is not checked a second time.
Probes: ``pg_stat_user_tables`` of ``orderflow_writer_txs`` (index and sequential scans; the
record's insert checks each pair's key, which PostgreSQL counts as a scan) around one batch.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from orderflow import db
from orderflow.chain.decode import decode_batch
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import store_batch
from orderflow.chain.writer_txs import IMPORTED, NODES
from tests.chain.hostile import fill
from tests.chain.match_batches import match_tx

N = 40  # transactions of the measured batch
_PROBES = "SELECT coalesce(idx_scan, 0) + seq_scan FROM pg_stat_user_tables WHERE relname = $1"
_PAIRS = "SELECT tx_key, block_number FROM orderflow_writer_txs ORDER BY 1, 2"
_KEY = "SELECT orderflow_tx_key($1::text) | $2::bigint"


async def _import(dsn: str, logs: list[dict[str, Any]]) -> int:
    """An import of ``logs`` (one batch); the probes of orderflow_writer_txs it made."""
    watch = await asyncpg.connect(dsn)
    try:
        await watch.execute("SELECT pg_stat_clear_snapshot()")
        before = int(await watch.fetchval(_PROBES, "orderflow_writer_txs"))
        pool = await db.create_pool(dsn, min_size=1, max_size=1)
        try:
            await ingest_logs(pool, logs, chain_id=137)
            await pool.execute("SELECT pg_stat_force_next_flush()")
        finally:
            await pool.close()
        await watch.execute("SELECT pg_stat_clear_snapshot()")
        return int(await watch.fetchval(_PROBES, "orderflow_writer_txs")) - before
    finally:
        await watch.close()


async def _pairs(dsn: str) -> list[tuple[int, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(r[0], r[1]) for r in await conn.fetch(_PAIRS)]
    finally:
        await conn.close()


async def _expected(dsn: str, logs: list[dict[str, Any]], code: int) -> list[tuple[int, int]]:
    """Each log's (transaction key | ``code``, block), once."""
    conn = await asyncpg.connect(dsn)
    try:
        return sorted(
            {
                (
                    int(await conn.fetchval(_KEY, raw["transactionHash"], code)),
                    int(raw["blockNumber"], 16),
                )
                for raw in logs
            }
        )
    finally:
        await conn.close()


async def test_an_import_beside_imports_only_probes_one_key_a_transaction(dsn: str) -> None:
    """An import of N fills (N transactions) after another import: its search probes each
    transaction's key under the imports' code only (the node's and the pre-070 ranges are
    empty), then its record checks each pair: about 2 N probes, where main made 4 N (three codes
    probed a transaction)."""
    first = [fill(1000 + i, 1, 100 + i) for i in range(N)]
    await _import(dsn, first)
    batch = [fill(2000 + i, 1, 500 + i) for i in range(N)]
    probes = await _import(dsn, batch)
    assert probes <= 2 * N + 8, probes
    assert await _pairs(dsn) == await _expected(dsn, first + batch, IMPORTED)


async def test_a_batch_of_fills_and_matches_records_each_pair_once(dsn: str) -> None:
    """An import of N matched transactions (three fills and a match each) after another import:
    the search probes each transaction's key once for the fills and once for the matches, and
    the record checks each (transaction, block) pair once, not once per kind: about 3 N probes,
    where main made 8 N. The pairs recorded are the same."""
    first = [log for i in range(4) for log in match_tx(900 + i, 90 + i)]
    await _import(dsn, first)
    batch = [log for i in range(N) for log in match_tx(3000 + i, 700 + i)]
    probes = await _import(dsn, batch)
    assert probes <= 3 * N + 12, probes
    assert await _pairs(dsn) == await _expected(dsn, first + batch, IMPORTED)


async def test_the_nodes_batch_after_an_import_records_both_kinds_under_its_code(
    dsn: str,
) -> None:
    """The node's batch of matched transactions (fills and matches, one record statement) after
    an import of other blocks: its pairs recorded under the node's code, the import's kept."""
    imported = [log for i in range(3) for log in match_tx(900 + i, 90 + i)]
    await _import(dsn, imported)
    node = [log for i in range(5) for log in match_tx(4000 + i, 800 + i)]
    conn = await asyncpg.connect(dsn)
    try:
        stats = await store_batch(conn, decode_batch(node, 137), chain_id=137, authoritative=True)
    finally:
        await conn.close()
    assert (stats.trades, stats.matches) == (15, 5)
    want = await _expected(dsn, imported, IMPORTED) + await _expected(dsn, node, NODES)
    assert await _pairs(dsn) == sorted(want)
