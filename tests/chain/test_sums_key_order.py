"""Migration 026: the sums' upserts reach ``orderflow_position_sums`` in primary-key order.

A recording row trigger on the two tables the statement of migration 011 writes sees the rows
the upserts propose, in the order they come; each statement's must be ascending by key (the
database's own collation), whatever plan the aggregate got: the fold of a bulk import, a live
batch's insert trigger, the update trigger. And the order changes nothing stored: the sums equal
a fresh aggregation of the trades (and a batch-by-batch import's, tests/chain/test_bulk_sums.py).
"""

from __future__ import annotations

import asyncpg
import pytest

from orderflow.chain import ingest, pending_sums
from orderflow.chain.ingest import ingest_logs
from tests.chain.test_bulk_sums import not_folded, ordered_logs
from tests.reputation.test_incremental_sums import assert_sums_match

# Every row an upsert proposes to either table, numbered, with the statement it came from.
RECORD = """
CREATE TABLE upsert_seen (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY,
    tbl       TEXT   NOT NULL,
    xid       xid8   NOT NULL,
    statement TIMESTAMPTZ NOT NULL,
    wallet    TEXT   NOT NULL,
    token     NUMERIC
);
CREATE FUNCTION upsert_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO upsert_seen (tbl, xid, statement, wallet, token)
    VALUES (TG_TABLE_NAME, pg_current_xact_id(), statement_timestamp(), NEW.wallet_address,
            (to_jsonb(NEW) ->> 'token_id')::numeric);
    RETURN NEW;
END;
$$;
CREATE TRIGGER upsert_seen BEFORE INSERT ON orderflow_position_sums
    FOR EACH ROW EXECUTE FUNCTION upsert_seen();
CREATE TRIGGER upsert_seen BEFORE INSERT ON orderflow_wallet_stats
    FOR EACH ROW EXECUTE FUNCTION upsert_seen();
"""
# Per table and statement: the rows seen, and how many came after a key not below their own
# (compared in SQL: the collation of the primary keys).
OUT_OF_ORDER = """
SELECT tbl, count(*) AS rows,
       count(*) FILTER (WHERE (prev_wallet, prev_token) >= (wallet, token)) AS out_of_order
  FROM (SELECT seq, tbl, xid, statement, wallet, coalesce(token, 0) AS token,
               lag(wallet) OVER w AS prev_wallet, lag(coalesce(token, 0)) OVER w AS prev_token
          FROM upsert_seen
        WINDOW w AS (PARTITION BY tbl, xid, statement ORDER BY seq)) s
 GROUP BY tbl, xid, statement
"""


async def upserts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(OUT_OF_ORDER + " ORDER BY min(seq)")
    return rows


def assert_in_key_order(seen: list[asyncpg.Record], *, many: int) -> None:
    assert seen
    assert all(r["out_of_order"] == 0 for r in seen), [tuple(r) for r in seen]
    # a statement large enough that a random order would have shown (about half out of order)
    assert max(r["rows"] for r in seen if r["tbl"] == "orderflow_position_sums") >= many


async def test_a_live_batch_upserts_its_sums_in_key_order(pool: asyncpg.Pool) -> None:
    await pool.execute(RECORD)
    logs = ordered_logs(7)
    report = await ingest_logs(pool, logs, chain_id=137, batch_size=len(logs))
    assert report.batches == 1 and report.stored.trades > 300
    assert_in_key_order(await upserts(pool), many=100)
    await assert_sums_match(pool)


async def test_a_fold_upserts_its_sums_in_key_order(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "fold_in", not_folded)
    logs = ordered_logs(7)
    half = len(logs) // 2
    await ingest_logs(pool, logs[:half], chain_id=137, batch_size=40)  # live: sums stored
    await ingest_logs(pool, logs[half:], chain_id=137, batch_size=40, bulk=True)  # deferred
    await pool.execute(RECORD)
    async with pool.acquire() as conn:
        assert await pending_sums.fold(conn) == 1
    assert_in_key_order(await upserts(pool), many=100)
    await assert_sums_match(pool)


async def test_the_update_trigger_upserts_in_key_order(pool: asyncpg.Pool) -> None:
    logs = ordered_logs(7)
    await ingest_logs(pool, logs, chain_id=137, batch_size=len(logs))
    await pool.execute(RECORD)
    # a change of the fills' fees: the update trigger moves every changed row's contribution
    changed = await pool.execute("UPDATE orderflow_trades SET fee = fee + 1")
    assert int(changed.split()[-1]) > 300
    seen = await upserts(pool)
    assert [r["tbl"] for r in seen] == ["orderflow_position_sums"]  # counters: inserts only
    assert_in_key_order(seen, many=100)
    await assert_sums_match(pool, counters=False)


async def test_the_fold_sorts_wallets_as_bytes(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 079: the fold's sort compares wallets in "C" (bytes, abbreviated keys), not
    through the database's locale; a wallet's hex string orders the same either way, so the
    upserts stay in key order (above) and the sums equal a fresh aggregation."""

    monkeypatch.setattr(ingest, "fold_in", not_folded)
    await ingest_logs(pool, ordered_logs(7), chain_id=137, batch_size=40, bulk=True)
    statement = await pool.fetchval(
        "SELECT orderflow_position_sums_add_sql(orderflow_position_sums_pending_rows(), TRUE)"
    )
    async with pool.acquire() as conn, conn.transaction():
        plan = [r[0] for r in await conn.fetch("EXPLAIN (COSTS OFF) " + statement)]
    keys = [line.strip() for line in plan if line.strip().startswith("Sort Key:")]
    wallet = keys[0].split(",")[0] if keys else ""  # the first sort's leading key
    assert "wallet_address" in wallet and wallet.endswith('COLLATE "C"'), plan
    await pool.execute(RECORD)
    async with pool.acquire() as conn:
        assert await pending_sums.fold(conn) == 1
    assert_in_key_order(await upserts(pool), many=100)
    await assert_sums_match(pool)
