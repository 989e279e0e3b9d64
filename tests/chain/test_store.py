"""store_batch against a real PostgreSQL (fresh migrated database per test): the rows stored,
idempotence, match links across batches, timestamps and dead letters. Markets and tokens:
test_store_markets.py; checkpoints, rollback and concurrent writers: test_store_checkpoints.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

from orderflow.chain.block_times import BlockHeader
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    encode_token_registered,
)
from orderflow.chain.encode_trades import encode_fill
from orderflow.chain.store import store_batch
from tests.chain.factory import T0, at, block_hash, h32
from tests.chain.match_batches import ALICE, BOB, CAROL, DAVE, match_tx, prepare, trades
from tests.chain.test_contracts_tokens import BTC_NO, BTC_UP_DOWN, BTC_YES


async def test_stores_hand_computed_rows_with_market_and_match(pool: asyncpg.Pool) -> None:
    batch = decode_batch([prepare(1), *match_tx(2, 7)], 137)
    async with pool.acquire() as conn:
        stats = await store_batch(conn, batch, chain_id=137, traceparent="00-abc-def-01")
        assert (stats.trades, stats.matches, stats.conditions, stats.tokens) == (3, 1, 1, 2)
        rows = await trades(conn)
        ts = datetime.fromtimestamp(T0 + 4, UTC)
        expected = [
            (ALICE, "SELL", Decimal(4), Decimal("2.4"), Decimal("0.6"), Decimal(0), False),
            (BOB, "SELL", Decimal(6), Decimal("3.6"), Decimal("0.6"), Decimal(0), False),
            (CAROL, "BUY", Decimal(10), Decimal(6), Decimal("0.6"), Decimal("0.012"), True),
        ]
        assert [
            (
                r["wallet_address"],
                r["side"],
                r["size"],
                r["usdc_size"],
                r["price"],
                r["fee"],
                r["is_taker_aggregate"],
            )
            for r in rows
        ] == expected
        assert {r["market_id"] for r in rows} == {BTC_UP_DOWN}
        assert {r["outcome_index"] for r in rows} == {0}
        assert {r["match_log_index"] for r in rows} == {3}
        assert {r["timestamp"] for r in rows} == {ts}
        m = await conn.fetchrow("SELECT * FROM orderflow_matches")
        assert (m["taker_wallet"], m["side"], m["size"], m["price"], m["market_id"]) == (
            CAROL,
            "BUY",
            Decimal(10),
            Decimal("0.6"),
            BTC_UP_DOWN,
        )
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM orderflow_trades WHERE traceparent = '00-abc-def-01'"
            )
            == 3
        )
        tokens = await conn.fetch(
            "SELECT token_id, outcome_index, complement_token_id, source FROM orderflow_tokens "
            "ORDER BY outcome_index"
        )
        assert [(int(t[0]), t[1], int(t[2])) for t in tokens] == [
            (BTC_YES, 0, BTC_NO),
            (BTC_NO, 1, BTC_YES),
        ]


async def test_same_batch_twice_is_idempotent_and_counters_not_doubled(pool: asyncpg.Pool) -> None:
    logs = [prepare(1), *match_tx(2, 7), *match_tx(3, 8)]
    async with pool.acquire() as conn:
        first = await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        before = await conn.fetch("SELECT * FROM orderflow_wallet_stats ORDER BY wallet_address")
        rows_before = await trades(conn)
        again = await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        # and the same log twice inside one batch
        twice = await store_batch(conn, decode_batch(logs + logs, 137), chain_id=137)
        after = await conn.fetch("SELECT * FROM orderflow_wallet_stats ORDER BY wallet_address")
        assert first.trades == 6
        assert (again.trades, again.duplicate_trades, again.matches) == (0, 6, 0)
        assert twice.trades == 0
        assert await trades(conn) == rows_before
        strip = [{k: v for k, v in dict(r).items() if k != "updated_at"} for r in before]
        assert [{k: v for k, v in dict(r).items() if k != "updated_at"} for r in after] == strip
        alice = next(r for r in after if r["wallet_address"] == ALICE)
        assert (alice["total_trades"], alice["total_volume_usdc"]) == (2, Decimal("4.8"))


async def test_tokens_learned_later_backfill_older_trades(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(match_tx(2, 7), 137), chain_id=137)
        assert {r["market_id"] for r in await trades(conn)} == {None}
        reg = encode_token_registered(
            at=at(5, 0, 50), token0=BTC_NO, token1=BTC_YES, condition_id=BTC_UP_DOWN
        )
        stats = await store_batch(conn, decode_batch([reg], 137), chain_id=137)
        assert (stats.tokens, stats.backfilled) == (2, 3)
        assert {(r["market_id"], r["outcome_index"]) for r in await trades(conn)} == {
            (BTC_UP_DOWN, 0)
        }
        assert await conn.fetchval("SELECT market_id FROM orderflow_matches") == BTC_UP_DOWN


async def test_match_links_across_batches_and_direct_fills_stay_unlinked(
    pool: asyncpg.Pool,
) -> None:
    logs = match_tx(2, 7, version="V1") + match_tx(2, 7, first_log=4, version="V1")
    direct = encode_fill(
        "V1",
        at=at(2, 20, 9),
        order_hash=h32(0xD1),
        maker=DAVE,
        taker=BOB,
        side="BUY",
        token_id=BTC_NO,
        shares=1_000_000,
        collateral=400_000,
    )
    async with pool.acquire() as conn:
        # split the transaction between two batches: fills of the 2nd match arrive first
        await store_batch(conn, decode_batch([*logs[:6], direct], 137), chain_id=137)
        await store_batch(conn, decode_batch(logs[6:], 137), chain_id=137)
        rows = await trades(conn)
        assert [(r["log_index"], r["match_log_index"]) for r in rows] == [
            (0, 3),
            (1, 3),
            (2, 3),
            (4, 7),
            (5, 7),
            (6, 7),
            (20, None),
        ]


async def test_match_links_when_fills_and_matches_come_from_separate_batches(
    pool: asyncpg.Pool,
) -> None:
    # Three whole transactions, their fills stored first and their matches by a later batch
    # (e.g. a file of fills, then one of matches): the middle one is neither the first nor the
    # last row of the matches' batch, but fills stored between those rows make it link all.
    logs = [log for tx in range(3) for log in match_tx(2, 7 + tx, first_log=4 * tx)]
    fills = [log for i, log in enumerate(logs) if i % 4 != 3]
    matches = [log for i, log in enumerate(logs) if i % 4 == 3]
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(fills, 137), chain_id=137)
        stats = await store_batch(conn, decode_batch(matches, 137), chain_id=137)
        assert stats.linked == 9
        rows = await trades(conn)
        assert [(r["log_index"], r["match_log_index"]) for r in rows] == [
            (i, 4 * (i // 4) + 3) for i in range(12) if i % 4 != 3
        ]


async def test_match_links_when_a_reimport_cuts_batches_elsewhere(pool: asyncpg.Pool) -> None:
    # A first import stopped inside transaction 8 (its first two fills stored, unlinked); a
    # re-import stores transactions 7 to 9 in one batch: 8 sits in the middle of that batch, its
    # stored fills are replays (not inserted again), and they still get their match.
    logs = [log for tx in range(3) for log in match_tx(2, 7 + tx, first_log=4 * tx)]
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(logs[:6], 137), chain_id=137)
        stats = await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        assert (stats.trades, stats.duplicate_trades, stats.linked) == (4, 5, 2)
        rows = await trades(conn)
        assert [(r["log_index"], r["match_log_index"]) for r in rows] == [
            (i, 4 * (i // 4) + 3) for i in range(12) if i % 4 != 3
        ]


async def test_missing_timestamps_come_from_blocks_or_become_dead_letters(
    pool: asyncpg.Pool,
) -> None:
    logs = match_tx(2, 7) + match_tx(3, 8)
    for log in logs:
        del log["blockTimestamp"]
    header = BlockHeader(2, block_hash(2), block_hash(1), datetime(2026, 5, 1, tzinfo=UTC))
    async with pool.acquire() as conn:
        stats = await store_batch(conn, decode_batch(logs, 137), chain_id=137, blocks=[header])
        assert (stats.trades, stats.matches, stats.dead_letters, stats.blocks) == (3, 1, 4, 1)
        reasons = await conn.fetch("SELECT reason, block_number FROM orderflow_dead_letters")
        assert {r["block_number"] for r in reasons} == {3}
        assert all("has no blockTimestamp and block 3" in r["reason"] for r in reasons)
        # block 3 becomes known later: the same logs now store, from orderflow_blocks
        later = BlockHeader(
            3, block_hash(3), block_hash(2), datetime(2026, 5, 1, 0, 0, 2, tzinfo=UTC)
        )
        await store_batch(conn, decode_batch([], 137), chain_id=137, blocks=[later])
        again = await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        assert again.trades == 3 and again.dead_letters == 0
        assert await conn.fetchval("SELECT count(*) FROM orderflow_dead_letters") == 0
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM orderflow_trades WHERE timestamp = '2026-05-01T00:00:02Z'"
            )
            == 3
        )


async def test_dead_letters_count_repeats(pool: asyncpg.Pool) -> None:
    bad = {**match_tx(2, 7)[0], "data": "0x00"}
    async with pool.acquire() as conn:
        for _ in range(3):
            await store_batch(conn, decode_batch([bad], 137), chain_id=137)
        row = await conn.fetchrow("SELECT * FROM orderflow_dead_letters")
    assert row["times_seen"] == 3
    assert row["raw"]["data"] == "0x00"
    assert "data is 1 bytes" in row["reason"]
    assert (row["block_number"], row["log_index"]) == (2, 0)
