"""The node's logs replace the rows an import stored that contradict them (``store_batch(…,
authoritative=True)``, the listener's backfill and live blocks; ``store_replace``).

An import stores a fill and a match at a wrong block (rows without a time to expose it), or a
fill with wrong amounts. The node's batch then stores each log once, at its block, as it is: the
rows, the per-(wallet, token) sums and the wallet counters are those of a database that only
ever held the node's logs, whether the import deferred its sums (bulk) or not. Each replaced row
is a dead letter naming it; a replay of the node's batch changes nothing more.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from orderflow.chain import pending_sums
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode_trades import encode_match
from orderflow.chain.ingest import ingest_logs
from orderflow.chain.store import StoreStats, store_batch
from tests.chain.factory import addr, at, h32
from tests.chain.hostile import TOKEN, fill
from tests.chain.test_bulk_sums import state

# The blocks where each kind of writer recorded a transaction (migration 070: its code in the
# key's top two bits, writer_txs.IMPORTED / NODES).
_SPAN = """
SELECT (min(block_number), max(block_number)) FROM orderflow_writer_txs
 WHERE tx_key >> 62 = CASE $1::text WHEN 'import' THEN 0 WHEN 'node' THEN -2 END
HAVING count(*) > 0
"""


def _match(block: int, log_index: int, tx: int) -> dict[str, Any]:
    return encode_match(
        "V2",
        at=at(block, log_index, tx),
        taker_order_hash=h32(77),
        taker_order_maker=addr(0xC1),
        side="BUY",
        token_id=TOKEN,
        shares=10_000_000,
        collateral=5_000_000,
    )


def _at_block(raw: dict[str, Any], block: int) -> dict[str, Any]:
    """The log with a wrong block number (its hash and time unchanged)."""
    return {**raw, "blockNumber": hex(block)}


def _other_amount(raw: dict[str, Any]) -> dict[str, Any]:
    data = raw["data"][2:]
    words = [data[i : i + 64] for i in range(0, len(data), 64)]
    words[2] = f"{7_000_000:064x}"  # the maker amount
    return {**raw, "data": "0x" + "".join(words)}


CHAIN = [fill(10, 1, 1), fill(10, 2, 2, maker=0xA2), _match(10, 3, 2), fill(11, 1, 3)]
IMPORTS = {
    # fill 2 and its match put at block 12, fill 3 at block 10 where fill 2 is
    "wrong blocks": [
        CHAIN[0],
        _at_block(CHAIN[1], 12),
        _at_block(CHAIN[2], 12),
        _at_block(fill(11, 2, 3), 10),
    ],
    "wrong amount": [CHAIN[0], _other_amount(CHAIN[1]), CHAIN[2], CHAIN[3]],
}
REPLACED = {"wrong blocks": (2, 1), "wrong amount": (1, 0)}


async def _node(pool: asyncpg.Pool) -> StoreStats:
    async with pool.acquire() as conn:
        return await store_batch(conn, decode_batch(CHAIN, 137), chain_id=137, authoritative=True)


async def _rows(pool: asyncpg.Pool, table: str) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        f"SELECT tx_hash, log_index, block_number, usdc_size FROM {table}"
        " ORDER BY block_number, log_index"
    )
    return [tuple(r) for r in rows]


@pytest.mark.parametrize("bulk", [False, True], ids=["batch by batch", "bulk"])
@pytest.mark.parametrize("imported", list(IMPORTS))
async def test_the_nodes_logs_replace_the_rows_an_import_stored_wrong(
    pool: asyncpg.Pool, other_pool: asyncpg.Pool, imported: str, bulk: bool
) -> None:
    await ingest_logs(pool, IMPORTS[imported], chain_id=137, bulk=bulk)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
    blocks = [int(raw["blockNumber"], 16) for raw in IMPORTS[imported]]
    assert await pool.fetchval(_SPAN, "import") == (min(blocks), max(blocks))

    stats = await _node(pool)
    if bulk:
        async with pool.acquire() as conn:
            await pending_sums.fold(conn)
    reference = other_pool  # a database that only ever held the node's logs
    await _node(reference)
    assert await reference.fetchval(_SPAN, "import") is None  # nothing to search there
    assert await reference.fetchval(_SPAN, "node") == await pool.fetchval(_SPAN, "node") == (10, 11)

    assert (stats.replaced_trades, stats.replaced_matches) == REPLACED[imported]
    for table in ("orderflow_trades", "orderflow_matches"):
        assert await _rows(pool, table) == await _rows(reference, table), table
    assert await state(pool) == await state(reference)
    letters = await pool.fetch("SELECT reason FROM orderflow_dead_letters ORDER BY id")
    assert len(letters) == sum(REPLACED[imported])
    assert all("replaced by the node's" in r["reason"] for r in letters), letters

    again = await _node(pool)  # a replay: nothing left to replace, nothing stored
    assert (again.trades, again.replaced_trades, again.replaced_matches) == (0, 0, 0)
    assert await pool.fetchval("SELECT count(*) FROM orderflow_dead_letters") == len(letters)


async def test_an_import_after_the_node_stores_no_second_copy(pool: asyncpg.Pool) -> None:
    """The node's logs first, then an import naming wrong blocks: its rows whose transaction
    hash and log index the node's logs hold at another block are dead letters, not copies."""
    await _node(pool)
    before = [await _rows(pool, t) for t in ("orderflow_trades", "orderflow_matches")]
    report = await ingest_logs(pool, IMPORTS["wrong blocks"], chain_id=137)
    assert (report.stored.trades, report.stored.matches) == (0, 0)
    assert [await _rows(pool, t) for t in ("orderflow_trades", "orderflow_matches")] == before
    letters = await pool.fetch(
        "SELECT block_number, log_index, reason FROM orderflow_dead_letters ORDER BY id"
    )
    # fill 2 and its match at block 12; fill 3 at (10, 2) is fill 2's place: a collision
    assert sorted((r["block_number"], r["log_index"]) for r in letters) == [
        (10, 2),
        (12, 2),
        (12, 3),
    ]
    assert (
        sum("is stored at block 10 (the row names a wrong block)" in r["reason"] for r in letters)
        == 2
    )
