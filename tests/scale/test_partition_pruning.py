"""The partitioned trades table of migration 012 (docs/scaling.md §3.4): which queries prune.

Run against the real migrated ``orderflow_trades`` (partitions made by the same SQL function the
store calls); the plans are PostgreSQL's own (EXPLAIN ANALYZE), so the claims of §3.4 are checked
against the real planner rather than asserted in prose. The store's own rollback statement is
the one explained.
"""

from __future__ import annotations

from decimal import Decimal

import asyncpg
import pytest

from orderflow.backtest import forward, history, liquidity
from orderflow.chain import partitions, rollback_sql
from orderflow.reputation import wallet_sql
from orderflow.signals import market_queries as signal_markets
from orderflow.signals import queries as signals
from tests.scale.partition_data import (
    FIRST,
    PER_PARTITION,
    at_fill,
    layout,
    live,
    months,
    move_ids_to,
    name,
    same_rows,
    scanned,
    subplans,
)


async def _rollback_scanned(conn: asyncpg.Connection, from_block: int) -> set[str]:
    """The store's own rollback DELETE, explained and executed, then undone."""
    tr = conn.transaction()
    await tr.start()
    try:
        return await scanned(conn, rollback_sql.DELETE_TRADES, 137, from_block)
    finally:
        await tr.rollback()


@pytest.mark.asyncio
async def test_queries_that_bound_the_block_prune_to_their_partitions(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=6)
        newest = FIRST + 5 * PER_PARTITION
        # a token's recent trades, bounded by block: the newest partition only
        recent = await scanned(
            conn,
            "SELECT * FROM orderflow_trades WHERE token_id = $1 AND block_number >= $2"
            " ORDER BY timestamp DESC LIMIT 20",
            1,
            newest,
        )
        assert recent == {name(5)}
        # rollback of a reorg near the head (the store's statement): the newest partition only
        assert await _rollback_scanned(conn, newest + 100) == {name(5)}
        # ... and across a partition boundary: the two partitions it spans
        assert await _rollback_scanned(conn, newest - 100) == {name(4), name(5)}
        # an --as-of scoring scan: the partitions up to the as-of block (partition 0, for
        # development chains, is empty here but not pruned: it is below the bound)
        as_of = await scanned(
            conn, "SELECT wallet_address, count(*) FROM orderflow_trades"
            " WHERE block_number < $1 GROUP BY 1", FIRST + 2 * PER_PARTITION
        )  # fmt: skip
        assert as_of == {partitions.name_of(0), name(0), name(1)}
        # a wallet's history without a block bound: every partition (an index probe in each)
        wallet = await scanned(
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
        bounded = await scanned(
            conn, "SELECT * FROM orderflow_trades WHERE wallet_address = $1"
            " AND block_number >= $2 ORDER BY timestamp DESC LIMIT 5", "0x" + "aa" * 20, newest
        )  # fmt: skip
        assert bounded == {name(5)}
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_old_month_detaches_and_the_rest_keeps_working(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=3)
        before = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        detached = await partitions.detach(conn, name(0))  # CONCURRENTLY
        assert [(p.name, p.attached) for p in detached] == [
            (name(0), False),
            (partitions.name_of(50, "orderflow_matches"), False),
        ]
        after = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        assert (before, after) == (120, 80)
        # the detached month is a plain table with its rows, ready for pg_dump / a cold tablespace
        assert await conn.fetchval(f"SELECT count(*) FROM {name(0)}") == 40
        listed = {p.name: p for p in await partitions.partitions(conn)}
        assert not listed[name(0)].attached and listed[name(1)].attached
        # the queries that matter still run on what remains
        assert await _rollback_scanned(conn, FIRST + 2 * PER_PARTITION) == {name(2)}
        wallet = await conn.fetchval(
            "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", "0x" + "aa" * 20
        )
        assert wallet == 40
        # a writer reaching the archived range is told so instead of storing half a month
        with pytest.raises(asyncpg.RaiseError, match="not attached"):
            await partitions.ensure(conn, FIRST + 5, FIRST + 5)
        # and it can come back (re-attach validates the range with one scan of that table only)
        assert all(p.attached for p in await partitions.attach(conn, name(0)))
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


# ------------------------------------------------------------------------------------------------
# The readers' own statements with their block bounds (migration 018, orderflow/chain/pruning.py)
# ------------------------------------------------------------------------------------------------


async def _blocks(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> list[int]:
    return [
        r["block_number"]
        for r in await conn.fetch(
            "SELECT block_number FROM orderflow_trades WHERE id = ANY($1::bigint[]) ORDER BY id",
            [r["id"] for r in rows],
        )
    ]


async def _resolved_market(conn: asyncpg.Connection) -> None:
    """Tokens 1 and 2 as the two outcomes of a market resolved early; every other fill a taker's
    (the forward test reads taker buys of resolved markets, the depth model maker fills)."""
    market = "0x" + "d1" * 32
    await conn.execute(
        "INSERT INTO orderflow_tokens (token_id, condition_id, outcome_index, generation, source)"
        " VALUES (1, $1, 0, 'CTF', 'test'), (2, $1, 1, 'CTF', 'test')",
        market,
    )
    await conn.execute(
        """
        INSERT INTO orderflow_market_outcomes (market_id, oracle, question_id,
            outcome_slot_count, payout_numerators, payouts, winning_outcome, resolved_at,
            chain_id, block_number, block_hash, tx_hash, log_index)
        VALUES ($1, '0x' || repeat('0a', 20), $1, 2, '{1,0}', '{1,0}', 0, $2, 137, 1, $1, $1, 0)
        """,
        market,
        at_fill(0),
    )
    await conn.execute("UPDATE orderflow_trades SET is_taker_aggregate = id % 2 = 0")


@pytest.mark.asyncio
async def test_readers_bounded_by_time_or_id_prune_and_read_the_same_rows(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await layout(conn, months=6)  # months 0..5 = partitions 50..55, fills 0..239
        await _resolved_market(conn)
        # generic plans, as prepared statements reach after five runs: pruning at execution time
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        newest = FIRST + 5 * PER_PARTITION
        # a partition's cover rounds ids up to a multiple of 4096 (it is written once per 4096
        # fills): the sequence is moved on as a live tape's would be between the steps
        cursor = await move_ids_to(conn, 100_000)

        # the executor's cursor: new live fills are in the newest partition only
        await live(conn, 1000, 3, newest + PER_PARTITION // 2, at=239)
        assert len(await same_rows(conn, signals._NEW_TRADES, cursor, 100)) == 3
        assert await scanned(conn, signals._NEW_TRADES, cursor, 100) == months(5)
        # a history import then writes month 1's blocks with newer ids: read too (and the
        # partitions between: a block bound is a range)
        cursor = await move_ids_to(conn, 200_000)
        await live(conn, 2000, 2, FIRST + PER_PARTITION + 7, at=45)
        new = await same_rows(conn, signals._NEW_TRADES, cursor, 100)
        assert await _blocks(conn, new) == [FIRST + PER_PARTITION + 7, FIRST + PER_PARTITION + 8]
        assert await scanned(conn, signals._NEW_TRADES, cursor, 100) == months(1, 2, 3, 4, 5)
        top = await conn.fetchval("SELECT max(id) FROM orderflow_trades")
        assert await same_rows(conn, signals._NEW_TRADES, top, 100) == []
        # once the cursor is past every partition's cover: no partition at all
        assert await scanned(conn, signals._NEW_TRADES, 210_000, 100) == set()
        assert await same_rows(conn, signals._NEW_TRADES, 210_000, 100) == []
        # the late sweep and the reads by id
        assert await scanned(conn, signals._LATE_TRADES, top, 3600.0, 2) == months(1, 2, 3, 4, 5)
        assert len(await same_rows(conn, signals._LATE_TRADES, top, 3600.0, 2)) == 2
        ids = [r["id"] for r in new]
        assert await scanned(conn, signals._TRADES_BY_ID, ids) == months(1, 2, 3, 4, 5)
        assert len(await same_rows(conn, signals._TRADES_BY_ID, ids)) == 2

        # out-of-order stamps: a fill of month 1 stamped in month 4, one of month 4 moved to
        # month 2 (an update: its range widens too)
        await live(conn, 3000, 1, FIRST + PER_PARTITION + 99, at=170)
        await conn.execute(
            "UPDATE orderflow_trades SET timestamp = $1 WHERE block_number = $2",
            at_fill(90),
            FIRST + 4 * PER_PARTITION + 5 * (PER_PARTITION // 40),
        )
        # a backtest step inside month 4 reads months 1 (the odd fill) to 4
        window = (at_fill(165), at_fill(175))
        assert await scanned(conn, history._TRADES, *window) == months(1, 2, 3, 4)
        stepped = await same_rows(conn, history._TRADES, *window)
        assert FIRST + PER_PARTITION + 99 in await _blocks(conn, stepped)
        # ... and one inside month 0 (before any odd stamp): month 0 only
        early = (at_fill(5), at_fill(30))
        assert await scanned(conn, history._TRADES, *early) == months(0)
        assert len(await same_rows(conn, history._TRADES, *early)) == 25
        # the forward test's realised returns and the depth model's maker fills, same windows
        for query in (forward._REALISED, liquidity._MAKER_FILLS):
            assert await scanned(conn, query, *early) == months(0)
            assert await scanned(conn, query, *window) == months(1, 2, 3, 4)
            for w in (early, window):
                await same_rows(conn, query, *w)

        # an --as-of scoring read through the gate: partitions up to the cut-off (partition 0,
        # for development chains, is empty and below the bound); month 2's moved fill included
        as_of = at_fill(95)
        assert await scanned(conn, wallet_sql.ALL_WALLETS, as_of) == {
            partitions.name_of(0),
            *months(0, 1, 2, 3, 4),
        }
        assert await scanned(conn, wallet_sql.ALL_WALLETS, at_fill(30)) == {
            partitions.name_of(0),
            name(0),
        }
        for cut in (at_fill(30), as_of, at_fill(500)):
            await same_rows(conn, wallet_sql.ALL_WALLETS, cut)
            await same_rows(conn, wallet_sql.WALLET_FILLS, cut, "0x" + "aa" * 20)

        # the decision pipeline's market views: the panic-sell window and the leader's later
        # sales (and buys of the complement) read month 5 only; so do the quotes (the latest
        # fills of each token and of its complement within the quote window)
        trades = [(1, Decimal(1), None, at_fill(230)), (2, Decimal(2), None, at_fill(235))]
        ids, tokens, markets, times = ([*c] for c in zip(*trades, strict=True))
        wallets = ["0x" + "aa" * 20, "0x" + "bb" * 20]
        # each trade's place on the chain: fill i of the layout is at block FIRST + i * 32400
        blocks = [FIRST + i * (PER_PARTITION // 40) for i in (230, 235)]
        # each token the other's complement: the leader's buys of it are read the same way
        complements = [Decimal(2), Decimal(1)]
        args = [
            ids,
            tokens,
            markets,
            times,
            7200.0,
            wallets,
            [137, 137],
            blocks,
            [0, 0],
            complements,
        ]
        per_subplan = await subplans(conn, signal_markets._MARKETS, *args)
        assert all(used <= months(5) for used in per_subplan.values()), per_subplan
        assert months(5) in per_subplan.values()
        await same_rows(conn, signal_markets._MARKETS, *args)
        quotes = [ids, tokens, times, 7200.0, 200]
        assert await scanned(conn, signal_markets._QUOTE_FILLS, *quotes) == months(5)
        await same_rows(conn, signal_markets._QUOTE_FILLS, *quotes)

        # a reorg's rollback deletes rows: the ranges stay as wide as they were (never wrong)
        await conn.execute(rollback_sql.DELETE_TRADES, 137, newest)
        assert await same_rows(conn, signals._NEW_TRADES, cursor, 100) != []
        for w in (early, window, (at_fill(200), at_fill(260))):
            await same_rows(conn, history._TRADES, *w)
    finally:
        await conn.close()
