"""The partitioned trades table of migration 012 (docs/scaling.md §3.4): which queries prune.

Run against the real migrated ``orderflow_trades`` (partitions made by the same SQL function the
store calls); the plans are PostgreSQL's own (EXPLAIN ANALYZE), so the claims of §3.4 are checked
against the real planner rather than asserted in prose. The store's own rollback statement is
the one explained.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from orderflow.backtest import forward, history, liquidity
from orderflow.chain import partitions, pruning
from orderflow.chain import store_sql as sql
from orderflow.reputation import wallet_sql
from orderflow.signals import queries as signals

PER_PARTITION = 1_296_000  # 30 days of 2-second blocks
FIRST = 50 * PER_PARTITION


async def _layout(conn: asyncpg.Connection, months: int) -> None:
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


def _name(m: int) -> str:
    return partitions.name_of(50 + m)


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
            and rel.startswith("orderflow_trades_p")
            and node.get("Actual Loops", 1)
        ):
            found.add(rel)
        for child in node.get("Plans", []):  # type: ignore[union-attr]
            walk(child)

    walk(plan[0]["Plan"])
    return found


async def _rollback_scanned(conn: asyncpg.Connection, from_block: int) -> set[str]:
    """The store's own rollback DELETE, explained and executed, then undone."""
    tr = conn.transaction()
    await tr.start()
    try:
        return await _scanned(conn, sql.DELETE_TRADES, 137, from_block)
    finally:
        await tr.rollback()


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
        assert recent == {_name(5)}
        # rollback of a reorg near the head (the store's statement): the newest partition only
        assert await _rollback_scanned(conn, newest + 100) == {_name(5)}
        # ... and across a partition boundary: the two partitions it spans
        assert await _rollback_scanned(conn, newest - 100) == {_name(4), _name(5)}
        # an --as-of scoring scan: the partitions up to the as-of block (partition 0, for
        # development chains, is empty here but not pruned: it is below the bound)
        as_of = await _scanned(
            conn, "SELECT wallet_address, count(*) FROM orderflow_trades"
            " WHERE block_number < $1 GROUP BY 1", FIRST + 2 * PER_PARTITION
        )  # fmt: skip
        assert as_of == {partitions.name_of(0), _name(0), _name(1)}
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
        # ... and with a block bound too, it prunes like the token's
        bounded = await _scanned(
            conn, "SELECT * FROM orderflow_trades WHERE wallet_address = $1"
            " AND block_number >= $2 ORDER BY timestamp DESC LIMIT 5", "0x" + "aa" * 20, newest
        )  # fmt: skip
        assert bounded == {_name(5)}
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_old_month_detaches_and_the_rest_keeps_working(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=3)
        before = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        detached = await partitions.detach(conn, _name(0))  # CONCURRENTLY
        assert [(p.name, p.attached) for p in detached] == [
            (_name(0), False),
            (partitions.name_of(50, "orderflow_matches"), False),
        ]
        after = await conn.fetchval("SELECT count(*) FROM orderflow_trades")
        assert (before, after) == (120, 80)
        # the detached month is a plain table with its rows, ready for pg_dump / a cold tablespace
        assert await conn.fetchval(f"SELECT count(*) FROM {_name(0)}") == 40
        listed = {p.name: p for p in await partitions.partitions(conn)}
        assert not listed[_name(0)].attached and listed[_name(1)].attached
        # the queries that matter still run on what remains
        assert await _rollback_scanned(conn, FIRST + 2 * PER_PARTITION) == {_name(2)}
        wallet = await conn.fetchval(
            "SELECT count(*) FROM orderflow_trades WHERE wallet_address = $1", "0x" + "aa" * 20
        )
        assert wallet == 40
        # a writer reaching the archived range is told so instead of storing half a month
        with pytest.raises(asyncpg.RaiseError, match="not attached"):
            await partitions.ensure(conn, FIRST + 5, FIRST + 5)
        # and it can come back (re-attach validates the range with one scan of that table only)
        assert all(p.attached for p in await partitions.attach(conn, _name(0)))
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


def _at(i: int) -> datetime:
    """The time of fill ``i`` of the layout (fills are 18 hours apart, 40 a month)."""
    return datetime.fromtimestamp(1700000000 + i * 64800, UTC)


async def _subplans(conn: asyncpg.Connection, query: str, *args: object) -> dict[str, set[str]]:
    """Partitions executed under each subplan of the plan ("" for the main query)."""
    plan = json.loads(
        await conn.fetchval(f"EXPLAIN (ANALYZE, COSTS OFF, FORMAT JSON) {query}", *args)
    )
    found: dict[str, set[str]] = {}

    def walk(node: dict[str, Any], under: str) -> None:
        under = str(node.get("Subplan Name", under))
        rel = node.get("Relation Name")
        if isinstance(rel, str) and rel.startswith("orderflow_trades_p"):
            found.setdefault(under, set())
            if node.get("Actual Loops"):
                found[under].add(rel)
        for child in node.get("Plans", []):
            walk(child, under)

    walk(plan[0]["Plan"], "")
    return found


async def _same_rows(conn: asyncpg.Connection, query: str, *args: object) -> list[asyncpg.Record]:
    """The statement's rows, checked equal to those of the statement without its bounds."""
    rows = await conn.fetch(query, *args)
    assert rows == await conn.fetch(pruning.without_bounds(query), *args)
    return rows


async def _live(
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
        _at(at),
        count,
        wallet,
    )


async def _move_ids_to(conn: asyncpg.Connection, last: int) -> int:
    await conn.execute("SELECT setval(pg_get_serial_sequence('orderflow_trades', 'id'), $1)", last)
    return last


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
        _at(0),
    )
    await conn.execute("UPDATE orderflow_trades SET is_taker_aggregate = id % 2 = 0")


def _months(*ms: int) -> set[str]:
    return {_name(m) for m in ms}


@pytest.mark.asyncio
async def test_readers_bounded_by_time_or_id_prune_and_read_the_same_rows(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=6)  # months 0..5 = partitions 50..55, fills 0..239
        await _resolved_market(conn)
        # generic plans, as prepared statements reach after five runs: pruning at execution time
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        newest = FIRST + 5 * PER_PARTITION
        # a partition's cover rounds ids up to a multiple of 4096 (it is written once per 4096
        # fills): the sequence is moved on as a live tape's would be between the steps
        cursor = await _move_ids_to(conn, 100_000)

        # the executor's cursor: new live fills are in the newest partition only
        await _live(conn, 1000, 3, newest + PER_PARTITION // 2, at=239)
        assert len(await _same_rows(conn, signals._NEW_TRADES, cursor, 100)) == 3
        assert await _scanned(conn, signals._NEW_TRADES, cursor, 100) == _months(5)
        # a history import then writes month 1's blocks with newer ids: read too (and the
        # partitions between: a block bound is a range)
        cursor = await _move_ids_to(conn, 200_000)
        await _live(conn, 2000, 2, FIRST + PER_PARTITION + 7, at=45)
        new = await _same_rows(conn, signals._NEW_TRADES, cursor, 100)
        assert await _blocks(conn, new) == [FIRST + PER_PARTITION + 7, FIRST + PER_PARTITION + 8]
        assert await _scanned(conn, signals._NEW_TRADES, cursor, 100) == _months(1, 2, 3, 4, 5)
        top = await conn.fetchval("SELECT max(id) FROM orderflow_trades")
        assert await _same_rows(conn, signals._NEW_TRADES, top, 100) == []
        # once the cursor is past every partition's cover: no partition at all
        assert await _scanned(conn, signals._NEW_TRADES, 210_000, 100) == set()
        assert await _same_rows(conn, signals._NEW_TRADES, 210_000, 100) == []
        # the late sweep and the reads by id
        assert await _scanned(conn, signals._LATE_TRADES, top, 3600.0, 2) == _months(1, 2, 3, 4, 5)
        assert len(await _same_rows(conn, signals._LATE_TRADES, top, 3600.0, 2)) == 2
        ids = [r["id"] for r in new]
        assert await _scanned(conn, signals._TRADES_BY_ID, ids) == _months(1, 2, 3, 4, 5)
        assert len(await _same_rows(conn, signals._TRADES_BY_ID, ids)) == 2

        # out-of-order stamps: a fill of month 1 stamped in month 4, one of month 4 moved to
        # month 2 (an update: its range widens too)
        await _live(conn, 3000, 1, FIRST + PER_PARTITION + 99, at=170)
        await conn.execute(
            "UPDATE orderflow_trades SET timestamp = $1 WHERE block_number = $2",
            _at(90),
            FIRST + 4 * PER_PARTITION + 5 * (PER_PARTITION // 40),
        )
        # a backtest step inside month 4 reads months 1 (the odd fill) to 4
        window = (_at(165), _at(175))
        assert await _scanned(conn, history._TRADES, *window) == _months(1, 2, 3, 4)
        stepped = await _same_rows(conn, history._TRADES, *window)
        assert FIRST + PER_PARTITION + 99 in await _blocks(conn, stepped)
        # ... and one inside month 0 (before any odd stamp): month 0 only
        early = (_at(5), _at(30))
        assert await _scanned(conn, history._TRADES, *early) == _months(0)
        assert len(await _same_rows(conn, history._TRADES, *early)) == 25
        # the forward test's realised returns and the depth model's maker fills, same windows
        for query in (forward._REALISED, liquidity._MAKER_FILLS):
            assert await _scanned(conn, query, *early) == _months(0)
            assert await _scanned(conn, query, *window) == _months(1, 2, 3, 4)
            for w in (early, window):
                await _same_rows(conn, query, *w)

        # an --as-of scoring read through the gate: partitions up to the cut-off (partition 0,
        # for development chains, is empty and below the bound); month 2's moved fill included
        as_of = _at(95)
        assert await _scanned(conn, wallet_sql.ALL_WALLETS, as_of) == {
            partitions.name_of(0),
            *_months(0, 1, 2, 3, 4),
        }
        assert await _scanned(conn, wallet_sql.ALL_WALLETS, _at(30)) == {
            partitions.name_of(0),
            _name(0),
        }
        for cut in (_at(30), as_of, _at(500)):
            await _same_rows(conn, wallet_sql.ALL_WALLETS, cut)
            await _same_rows(conn, wallet_sql.WALLET_FILLS, cut, "0x" + "aa" * 20)

        # the decision pipeline's market views: the panic-sell window reads month 5 only (the
        # token's last price has no time condition: one probe in every partition)
        trades = [(1, Decimal(1), None, _at(230)), (2, Decimal(2), None, _at(235))]
        args = [list(c) for c in zip(*trades, strict=True)] + [7200.0]
        per_subplan = await _subplans(conn, signals._MARKETS, *args)
        assert _months(5) in per_subplan.values()
        await _same_rows(conn, signals._MARKETS, *args)

        # a reorg's rollback deletes rows: the ranges stay as wide as they were (never wrong)
        await conn.execute(sql.DELETE_TRADES, 137, newest)
        assert await _same_rows(conn, signals._NEW_TRADES, cursor, 100) != []
        for w in (early, window, (_at(200), _at(260))):
            await _same_rows(conn, history._TRADES, *w)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_a_partition_attached_by_hand_disables_the_bounds_until_refreshed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await _layout(conn, months=4)
        early = (_at(5), _at(30))
        assert await _scanned(conn, history._TRADES, *early) == _months(0)
        # detached with the tool (its range is forgotten), written to while detached, attached
        # back by hand: no range, so no bound at all, and the rows are read
        await partitions.detach(conn, _name(3))
        await conn.execute(
            f"UPDATE {_name(3)} SET timestamp = $1 WHERE block_number = $2",
            _at(10),
            FIRST + 3 * PER_PARTITION,
        )
        await conn.execute(
            f"ALTER TABLE orderflow_trades ATTACH PARTITION {_name(3)}"
            f" FOR VALUES FROM ({FIRST + 3 * PER_PARTITION}) TO ({FIRST + 4 * PER_PARTITION})"
        )
        assert await _scanned(conn, history._TRADES, *early) == {
            partitions.name_of(0),
            *_months(0, 1, 2, 3),
        }
        rows = await _same_rows(conn, history._TRADES, *early)
        assert len(rows) == 26
        # the refresh (what `partitions attach` runs) recomputes it: pruning again, same rows
        assert await conn.fetchval("SELECT orderflow_trade_ranges_refresh()") == 5
        assert await _scanned(conn, history._TRADES, *early) == _months(0, 1, 2, 3)
        assert await _same_rows(conn, history._TRADES, *early) == rows
        # detach and attach with the tool: the range comes back with the partition
        await partitions.detach(conn, _name(3))
        await partitions.attach(conn, _name(3))
        assert await _scanned(conn, history._TRADES, *early) == _months(0, 1, 2, 3)
        assert await _same_rows(conn, history._TRADES, *early) == rows
        late = (_at(100), _at(110))
        assert await _scanned(conn, history._TRADES, *late) == _months(2, 3)  # month 3's odd fill
        # a partition made for new blocks starts empty: it bounds nothing away
        await partitions.ensure(conn, FIRST + 4 * PER_PARTITION, FIRST + 4 * PER_PARTITION)
        assert await _scanned(conn, history._TRADES, *late) == _months(2, 3)
    finally:
        await conn.close()


@pytest.mark.asyncio
async def test_two_writers_of_a_partition_never_wait_and_its_cover_folds(dsn: str) -> None:
    a = await asyncpg.connect(dsn)
    b = await asyncpg.connect(dsn)
    try:
        await _layout(a, months=2)
        tr = a.transaction()
        await tr.start()
        await _move_ids_to(a, 10_000)
        await _live(a, 1000, 1, FIRST + 10, at=300)  # not committed yet, nor its cover
        # a second writer of the same partition does not wait for the first one's commit (another
        # wallet: the per-(wallet, token) sums of migration 011 would serialise the two)
        await asyncio.wait_for(_live(b, 1100, 1, FIRST + 11, at=301, wallet="dd"), timeout=30)
        # statements beyond the cover (ids moved on past the 4,096 rounding, later stamps):
        # each appends a row; past 8 they are folded, never waiting either
        for k in range(12):
            await _move_ids_to(b, 20_000 * (k + 1))
            await asyncio.wait_for(
                _live(b, 2000 + k, 1, FIRST + 100 + k, at=310 + k, wallet="dd"), timeout=30
            )
        covers = "SELECT count(*) FROM orderflow_trade_partition_ranges WHERE relname = $1"
        assert await b.fetchval(covers, _name(0)) <= 9
        await tr.commit()
        assert await b.fetchval(covers, _name(0)) <= 10
        # every row of both writers is read through the bounds (month 0's late stamps make its
        # cover reach past month 1's; partition 0, empty, is below every bound)
        late = (_at(299), _at(400))
        assert len(await _same_rows(b, history._TRADES, *late)) == 14
        assert await _scanned(b, history._TRADES, *late) == _months(0, 1)
        assert len(await _same_rows(b, signals._NEW_TRADES, 5_000, 100)) == 14
        assert await _scanned(b, signals._NEW_TRADES, 5_000, 100) == _months(0, 1)
    finally:
        await a.close()
        await b.close()
