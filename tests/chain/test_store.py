"""store_batch / rollback_from against a real PostgreSQL (fresh migrated database per test)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from orderflow.chain import contracts as c
from orderflow.chain.block_times import BlockHeader
from orderflow.chain.checkpoints import Checkpoint, get_checkpoint, rewind_checkpoint
from orderflow.chain.decode import decode_batch
from orderflow.chain.encode import (
    encode_condition_preparation,
    encode_condition_resolution,
    encode_token_registered,
)
from orderflow.chain.encode_trades import encode_fill, encode_match
from orderflow.chain.rollback import rollback_from
from orderflow.chain.store import store_batch
from orderflow.chain.tokens import condition_id, ctf_position_ids
from tests.chain.factory import T0, addr, at, block_hash, h32
from tests.chain.test_contracts_tokens import BTC_NO, BTC_UP_DOWN, BTC_YES, SUBGRAPH_NEG, VECTORS

ALICE, BOB, CAROL, DAVE = addr(0xA11CE), addr(0xB0B), addr(0xCA501), addr(0xDA7E)
NEG_YES, NEG_NO = VECTORS[2][2], VECTORS[2][3]


def prepare(block: int, condition: str = BTC_UP_DOWN, *, neg: bool = False) -> dict[str, Any]:
    return encode_condition_preparation(
        at=at(block, 0, tx=block * 100),
        condition_id=condition,
        oracle=c.NEG_RISK_ADAPTER if neg else addr(0x0AC1E),
        question_id=h32(0x9),
        outcome_slot_count=2,
    )


def match_tx(
    block: int, tx: int, *, first_log: int = 0, version: str = "V2"
) -> list[dict[str, Any]]:
    """A taker (CAROL) buys 10 YES at 0.60 from two makers: ALICE sells 4, BOB sells 6.

    Logs: ALICE's fill, BOB's fill, CAROL's aggregate (taker = exchange), OrdersMatched.
    """
    ex = {"V1": c.V1_CTF_EXCHANGE, "V2": c.V2_CTF_EXCHANGE, "V3": c.V3_EXCHANGE}[version]
    i = first_log
    common = {"token_id": BTC_YES, "exchange": ex}
    return [
        encode_fill(
            version,
            at=at(block, i, tx),
            order_hash=h32(0xA0 + tx),
            maker=ALICE,  # type: ignore[arg-type]
            taker=CAROL,
            side="SELL",
            shares=4_000_000,
            collateral=2_400_000,
            **common,
        ),
        encode_fill(
            version,
            at=at(block, i + 1, tx),
            order_hash=h32(0xB0 + tx),
            maker=BOB,  # type: ignore[arg-type]
            taker=CAROL,
            side="SELL",
            shares=6_000_000,
            collateral=3_600_000,
            **common,
        ),
        encode_fill(
            version,
            at=at(block, i + 2, tx),
            order_hash=h32(0xC0 + tx),
            maker=CAROL,  # type: ignore[arg-type]
            taker=ex,
            side="BUY",
            shares=10_000_000,
            collateral=6_000_000,
            fee=12_000,
            **common,
        ),
        encode_match(
            version,
            at=at(block, i + 3, tx),
            taker_order_hash=h32(0xC0 + tx),  # type: ignore[arg-type]
            taker_order_maker=CAROL,
            side="BUY",
            shares=10_000_000,
            collateral=6_000_000,
            **common,
        ),
    ]


async def trades(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT wallet_address, side, size, usdc_size, price, fee, fee_asset, market_id, "
        "outcome_index, is_taker_aggregate, match_log_index, log_index, block_number, timestamp,"
        " exchange_version FROM orderflow_trades ORDER BY block_number, log_index"
    )


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


async def test_resolution_fills_market_outcomes(pool: asyncpg.Pool) -> None:
    res = encode_condition_resolution(
        at=at(9, 2, 90),
        condition_id=BTC_UP_DOWN,
        oracle=addr(0x0AC1E),
        question_id=h32(9),
        payout_numerators=[1, 1],
    )
    async with pool.acquire() as conn:
        stats = await store_batch(conn, decode_batch([res], 137), chain_id=137)
        row = await conn.fetchrow("SELECT * FROM orderflow_market_outcomes")
    assert stats.outcomes == 1
    assert row["payout_numerators"] == [Decimal(1), Decimal(1)]
    assert row["payouts"] == [Decimal("0.5"), Decimal("0.5")]
    assert row["winning_outcome"] is None
    assert row["resolved_at"] == datetime.fromtimestamp(T0 + 18, UTC)


async def test_neg_risk_condition_registers_wrapped_collateral_ids(pool: asyncpg.Pool) -> None:
    fill = encode_fill(
        "V2",
        at=at(4, 1, 4),
        order_hash=h32(1),
        maker=ALICE,
        taker=BOB,
        side="BUY",
        token_id=NEG_NO,
        shares=2_000_000,
        collateral=500_000,
        exchange=c.V2_NEG_RISK_CTF_EXCHANGE,
    )
    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([prepare(3, SUBGRAPH_NEG, neg=True), fill], 137), chain_id=137
        )
        row = await conn.fetchrow("SELECT market_id, outcome_index FROM orderflow_trades")
        neg = await conn.fetchval("SELECT neg_risk FROM orderflow_conditions")
    assert (row["market_id"], row["outcome_index"], neg) == (SUBGRAPH_NEG, 1, True)


async def test_v3_fill_registers_its_structured_token(pool: asyncpg.Pool) -> None:
    v3_yes = 1 << 248 | 0xABCDEF << 120 | 2 << 104 | 7 << 8
    logs = [{**log} for log in match_tx(2, 7, version="V3")]
    logs = [
        encode_fill(
            "V3",
            at=at(2, 0, 7),
            order_hash=h32(1),
            maker=ALICE,
            taker=BOB,
            side="BUY",
            token_id=v3_yes | 1,
            shares=1_000_000,
            collateral=300_000,
        )
    ]
    async with pool.acquire() as conn:
        await store_batch(conn, decode_batch(logs, 137), chain_id=137)
        row = await conn.fetchrow("SELECT market_id, outcome_index FROM orderflow_trades")
        gen = await conn.fetchval("SELECT generation FROM orderflow_tokens")
    assert row["market_id"] == "0x" + format(v3_yes, "064x")
    assert (row["outcome_index"], gen) == (1, "V3")


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


async def test_checkpoint_only_moves_forward(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await get_checkpoint(conn, 137, "listener") is None
        empty = decode_batch([], 137)
        s = await store_batch(
            conn, empty, chain_id=137, checkpoint=Checkpoint("listener", 10, h32(10))
        )
        assert s.checkpoint_advanced
        s = await store_batch(
            conn, empty, chain_id=137, checkpoint=Checkpoint("listener", 5, h32(5))
        )
        assert not s.checkpoint_advanced
        assert await get_checkpoint(conn, 137, "listener") == Checkpoint("listener", 10, h32(10))
        assert await get_checkpoint(conn, 80002, "listener") is None


async def test_failed_batch_leaves_no_rows_and_no_checkpoint(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("ALTER TABLE orderflow_matches ADD CONSTRAINT no CHECK (size < 1)")
        try:
            await store_batch(
                conn,
                decode_batch(match_tx(2, 7), 137),
                chain_id=137,
                checkpoint=Checkpoint("listener", 2),
            )
        except asyncpg.CheckViolationError:
            pass
        else:
            raise AssertionError("the check should have failed the batch")
        assert await conn.fetchval("SELECT count(*) FROM orderflow_trades") == 0
        assert await get_checkpoint(conn, 137, "listener") is None


async def test_rollback_removes_orphaned_blocks_and_rewinds(pool: asyncpg.Pool) -> None:
    logs = [prepare(1), *match_tx(2, 7), *match_tx(3, 8)]
    res = encode_condition_resolution(
        at=at(3, 9, 8),
        condition_id=BTC_UP_DOWN,
        oracle=addr(0x0AC1E),
        question_id=h32(9),
        payout_numerators=[1, 0],
    )
    bad = {**match_tx(3, 9)[0], "data": "0x00"}
    headers = [
        BlockHeader(n, block_hash(n), block_hash(n - 1), datetime.fromtimestamp(T0 + 2 * n, UTC))
        for n in (1, 2, 3)
    ]
    async with pool.acquire() as conn:
        await store_batch(
            conn,
            decode_batch([*logs, res, bad], 137),
            chain_id=137,
            blocks=headers,
            checkpoint=Checkpoint("listener", 3, block_hash(3)),
        )
        await store_batch(
            conn,
            decode_batch([], 137),
            chain_id=137,
            checkpoint=Checkpoint("file:x", 2, block_hash(2)),
        )
        stats = await rollback_from(conn, 137, 3)
        assert (stats.trades, stats.matches, stats.outcomes, stats.blocks) == (3, 1, 1, 1)
        assert (stats.dead_letters, stats.checkpoints, stats.conditions) == (1, 1, 0)
        assert await get_checkpoint(conn, 137, "listener") == Checkpoint(
            "listener", 2, block_hash(2)
        )
        assert await get_checkpoint(conn, 137, "file:x") == Checkpoint("file:x", 2, block_hash(2))
        alice = await conn.fetchrow(
            "SELECT total_trades, total_volume_usdc, last_trade_at FROM orderflow_wallet_stats"
            " WHERE wallet_address = $1",
            ALICE,
        )
        assert (alice[0], alice[1]) == (1, Decimal("2.4"))
        assert alice[2] == datetime.fromtimestamp(T0 + 4, UTC)
        # the canonical block 3 (another fork) is then stored normally
        canon = [{**log, "blockHash": block_hash(3, fork=1)} for log in match_tx(3, 8)]
        again = await store_batch(conn, decode_batch(canon, 137), chain_id=137)
        assert again.trades == 3
        # rolling back to the condition's block removes it and its computed tokens
        stats = await rollback_from(conn, 137, 1)
        assert (stats.conditions, stats.tokens, stats.trades) == (1, 2, 6)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM orderflow_wallet_stats WHERE total_trades <> 0"
            )
            == 0
        )


async def _wait_until_blocked(pool: asyncpg.Pool, pid: int) -> None:
    """Poll until backend ``pid`` waits on a lock (advisory or row): no fixed sleeps."""
    import asyncio

    for _ in range(600):
        waiting = await pool.fetchval(
            "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second writer never blocked")


async def test_concurrent_writers_queue_instead_of_deadlocking(pool: asyncpg.Pool) -> None:
    """Writer A holds rows of a batch; writer B stores an overlapping batch in reverse order;
    A then stores more rows that B would have locked. Without the writer lock this is a
    deadlock (PostgreSQL aborts one); with it B waits for A, and every log is stored once."""
    import asyncio

    logs = [log for tx in range(20) for log in match_tx(2 + tx, 100 + tx)]
    async with pool.acquire() as a, pool.acquire() as b:
        b_pid = await b.fetchval("SELECT pg_backend_pid()")
        async with a.transaction():
            await store_batch(a, decode_batch(logs[:30], 137), chain_id=137)
            task = asyncio.create_task(
                store_batch(b, decode_batch(list(reversed(logs[20:])), 137), chain_id=137)
            )
            await _wait_until_blocked(pool, b_pid)
            await store_batch(a, decode_batch(logs[30:40], 137), chain_id=137)
        stats = await task
        # B's 60 logs hold 45 fills: 15 that A stored first, 30 only B has
        assert (stats.trades, stats.duplicate_trades) == (30, 15)
        assert await a.fetchval("SELECT count(*) FROM orderflow_trades") == 60
        assert await a.fetchval("SELECT sum(total_trades) FROM orderflow_wallet_stats") == 60
        assert (
            await a.fetchval("SELECT count(*) FROM orderflow_trades WHERE match_log_index IS NULL")
            == 0
        )


async def test_a_resolution_maps_a_market_prepared_before_the_first_block(
    pool: asyncpg.Pool,
) -> None:
    """No ConditionPreparation ever seen: the resolution's fields give the token ids."""
    oracle, question = addr(0x0AC1E), h32(0x77)
    plain = condition_id(oracle, question, 2)
    neg = condition_id(c.NEG_RISK_ADAPTER, question, 2)
    yes = ctf_position_ids(plain, 2, c.USDC_E)[0]
    neg_no = ctf_position_ids(neg, 2, c.NEG_RISK_WRAPPED_COLLATERAL)[1]

    def fill(block: int, token: int, tx: int) -> dict[str, Any]:
        return encode_fill(
            "V2",
            at=at(block, 0, tx),
            order_hash=h32(tx),
            maker=ALICE,
            taker=BOB,
            side="BUY",
            token_id=token,
            shares=1_000_000,
            collateral=600_000,
        )

    def resolve(block: int, condition: str, by: str) -> dict[str, Any]:
        return encode_condition_resolution(
            at=at(block, 0, tx=block * 100),
            condition_id=condition,
            oracle=by,
            question_id=question,
            payout_numerators=[1, 0],
        )

    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([fill(2, yes, 1), fill(3, neg_no, 2)], 137), chain_id=137
        )
        assert {r["market_id"] for r in await trades(conn)} == {None}
        stats = await store_batch(
            conn,
            decode_batch([resolve(9, plain, oracle), resolve(9, neg, c.NEG_RISK_ADAPTER)], 137),
            chain_id=137,
        )
        assert (stats.tokens, stats.backfilled, stats.outcomes) == (4, 2, 2)
        rows = await trades(conn)
        assert [(r["market_id"], r["outcome_index"]) for r in rows] == [(plain, 0), (neg, 1)]
        registry = await conn.fetch(
            "SELECT condition_id, neg_risk, collateral, source FROM orderflow_tokens"
            " WHERE token_id = ANY($1::text[]::numeric[])",
            [str(yes), str(neg_no)],
        )
        assert {tuple(r) for r in registry} == {
            (plain, False, c.USDC_E, "ConditionResolution"),
            (neg, True, c.NEG_RISK_WRAPPED_COLLATERAL, "ConditionResolution"),
        }
        # Again: nothing new, nothing updated (idempotent).
        stats = await store_batch(
            conn, decode_batch([resolve(9, plain, oracle)], 137), chain_id=137
        )
        assert (stats.tokens, stats.backfilled) == (0, 0)
        # A resolution whose id does not follow from its fields maps nothing.
        stats = await store_batch(
            conn, decode_batch([resolve(10, h32(0xBAD), oracle)], 137), chain_id=137
        )
        assert stats.tokens == 0


async def test_rewind_checkpoint_only_moves_back(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await store_batch(
            conn, decode_batch([], 137), chain_id=137, checkpoint=Checkpoint("listener", 20)
        )
        assert await rewind_checkpoint(conn, 137, "listener", 25) is False
        assert await rewind_checkpoint(conn, 137, "listener", 12) is True
        cp = await get_checkpoint(conn, 137, "listener")
        assert cp is not None and cp.block_number == 12
