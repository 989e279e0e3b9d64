"""A new trade that only moves an open token's mark does not rescore its other holders.

The mark (the token's last price) feeds one figure, the holders' unrealized P&L, which is
computed when read (migration 098: ``orderflow_unrealized_pnl``, called by
``orderflow_wallet_read``) from the open positions and the marks the last run stored: the
incremental run writes no row of a holder it does not rescore, and a full recompute on the same
data agrees with every figure as read.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import asyncpg

from orderflow.reputation import positions_sql, run_reputation
from orderflow.reputation.stored_inputs import INPUTS
from orderflow.reputation.unrealized import MARKS, OPEN
from tests.reputation.builders import Ledger, wallet
from tests.reputation.test_incremental_run import close, persisted

HOLDERS = range(1, 7)


def H(hours: int) -> timedelta:
    return timedelta(hours=hours)


async def unrealized(pool: asyncpg.Pool, who: int) -> D:
    """The wallet's unrealized P&L as readers see it (orderflow_wallet_read)."""
    value = await pool.fetchval(
        "SELECT s.unrealized_pnl FROM orderflow_wallet_stats w"
        " CROSS JOIN LATERAL orderflow_wallet_read(w) AS s WHERE w.wallet_address = $1",
        wallet(who),
    )
    assert isinstance(value, D)
    return value


# The row versions of the holders' stored rows (their row and their stored inputs): a row
# written, even to the values it holds, gets a new xmin.
_VERSIONS = f"""
SELECT w.wallet_address, w.xmin::text AS stats, i.xmin::text AS inputs
  FROM orderflow_wallet_stats w JOIN {INPUTS} i ON i.wallet_address = w.wallet_address
 WHERE w.wallet_address = ANY($1::text[])
"""


async def versions(pool: asyncpg.Pool, who: list[int]) -> dict[str, tuple[str, str]]:
    rows = await pool.fetch(_VERSIONS, [wallet(x) for x in who])
    assert len(rows) == len(who)
    return {r["wallet_address"]: (r["stats"], r["inputs"]) for r in rows}


async def test_a_moved_mark_writes_no_row_of_its_holders(pool: asyncpg.Pool) -> None:
    """An hour whose only change is a new trade moving one token's mark: the holders not
    rescored keep their stored rows as they were (none written), and read the new figure."""
    led = Ledger()
    for who in HOLDERS:
        led.trade(who, "BUY", f"{10 * who}.5", "0.40", market_no=1, at=H(who), taker_aggregate=True)
        led.trade(who, "BUY", "50", "0.30", market_no=2, at=H(who), taker_aggregate=True)
    led.trade(3, "SELL", "5", "0.45", market_no=1, at=H(13), taker_aggregate=True)
    led.resolve(2, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    assert not (await run_reputation(pool)).incremental
    before = await versions(pool, list(HOLDERS))
    led.trade(50, "BUY", "3", "0.70", market_no=1, at=H(30), taker_aggregate=True)
    await led.flush(pool)
    second = await run_reputation(pool)
    assert second.incremental and second.rescored == 1
    after = await versions(pool, list(HOLDERS))
    written = sorted(w for w in before if before[w] != after[w])
    assert written == []
    assert await unrealized(pool, 1) == D("3.15")  # 10.5 x (0.70 - 0.40), as read


async def test_a_moved_mark_updates_holders_without_rescoring(pool: asyncpg.Pool) -> None:
    led = Ledger()
    for who in HOLDERS:  # open positions in market 1 (unresolved), decisions in market 2
        led.trade(who, "BUY", f"{10 * who}.5", "0.40", market_no=1, at=H(who), taker_aggregate=True)
        led.trade(who, "BUY", "50", "0.30", market_no=2, at=H(who), taker_aggregate=True)
    # alone in the six hours before it (orderflow.reputation.line_sql): the mark
    led.trade(3, "SELL", "5", "0.45", market_no=1, at=H(13), taker_aggregate=True)
    led.resolve(2, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    first = await run_reputation(pool)
    assert not first.incremental
    assert await unrealized(pool, 1) == D("0.525")  # 10.5 x (0.45 - 0.40): marked at 0.45

    # a newcomer's fill moves market 1's mark to 0.7; an outcome-1 fill leaves it alone
    led.trade(50, "BUY", "3", "0.70", market_no=1, at=H(30), taker_aggregate=True)
    led.trade(51, "BUY", "3", "0.31", market_no=1, outcome=1, at=H(31), taker_aggregate=True)
    await led.flush(pool)
    second = await run_reputation(pool)
    assert second.incremental
    assert second.rescored == 2  # the two new wallets, not the six holders
    assert await unrealized(pool, 1) == D("3.15")  # 10.5 x (0.70 - 0.40)
    incremental = await persisted(pool)

    third = await run_reputation(pool, full=True)
    assert not third.incremental and third.history_rows == 0
    close(await persisted(pool), incremental)

    # the holder that sold, now rescored for its own fill, then fills removed (as a
    # reorg does): the mark falls back to 0.40
    led.trade(3, "BUY", "1", "0.65", market_no=1, at=H(40), taker_aggregate=True)
    await led.flush(pool)
    fourth = await run_reputation(pool)
    assert fourth.incremental and fourth.rescored == 1
    await pool.execute(
        "DELETE FROM orderflow_trades WHERE wallet_address = ANY($1::text[])",
        [wallet(3), wallet(50)],
    )
    fifth = await run_reputation(pool)
    assert fifth.incremental and fifth.rescored == 0  # wallet 3's row is gone, 50's too
    assert await unrealized(pool, 1) == D(0)
    after = await persisted(pool)
    sixth = await run_reputation(pool, full=True)
    assert sixth.history_rows == 0
    close(await persisted(pool), after)


async def test_light_positions_are_the_full_ones_narrowed(pool: asyncpg.Pool) -> None:
    led = Ledger()
    led.trade(1, "BUY", "100", "0.40", market_no=1, fee="0.5", at=H(1), taker_aggregate=True)
    led.trade(1, "SELL", "130", "0.55", market_no=1, fee="2", fee_asset="SHARES", at=H(2))
    led.trade(2, "BUY", "7.25", "0.30", market_no=2, outcome=1, at=H(3), taker_aggregate=True)
    led.trade(3, "BUY", "5", "0.5", market_no=None, token_id=777, at=H(4))
    led.resolve(1, ["1", "0"], timedelta(days=1))
    led.resolve(2, ["0", "0"], timedelta(days=1))
    await led.flush(pool)
    columns = (
        "wallet_address, token_id, market_id, fills, first_at, problem, resolved_at,"
        " problem_payouts, resolved, held_u, tb, ts"
    )
    rows = {}
    async with pool.acquire() as conn:
        for light in (False, True):
            async with conn.transaction():
                now = await conn.fetchval("SELECT now()")
                await conn.execute(positions_sql.positions(stored=True, light=light), now)
                rows[light] = [
                    tuple(r)
                    for r in await conn.fetch(f"SELECT {columns} FROM rep_positions ORDER BY 1, 2")
                ]
    assert len(rows[True]) == 3 and rows[True] == rows[False]


async def test_wallet_rows_are_stored_uncompressed(pool: asyncpg.Pool) -> None:
    """Migration 013: the rewritten rows skip pglz; migration 020: a row and its history
    snapshots hold the factors' figures (no JSON: a few hundred bytes), nothing compressed."""
    options = await pool.fetchval(
        "SELECT reloptions FROM pg_class WHERE oid = 'orderflow_wallet_stats'::regclass"
    )
    assert "toast_tuple_target=8160" in options
    led = Ledger()
    for who in HOLDERS:
        led.trade(who, "BUY", "50", "0.30", market_no=2, at=H(who), taker_aggregate=True)
    led.resolve(2, ["1", "0"], timedelta(days=2))
    await led.flush(pool)
    await run_reputation(pool)
    for table in ("orderflow_wallet_stats", "orderflow_reputation_history"):
        sizes = await pool.fetch(
            "SELECT pg_column_compression(factor_figures) AS c, pg_column_size(s.*) AS n,"
            f" factors_stored, orderflow_factors(s) AS factors FROM {table} s"
        )
        assert len(sizes) == len(HOLDERS)
        assert all(r["c"] is None and r["factors_stored"] is None for r in sizes), table
        assert all(300 < r["n"] < 1000 and r["factors"]["posterior"] for r in sizes), table


async def _rows(pool: asyncpg.Pool) -> dict[str, set[tuple[str, str]]]:
    """The open positions' and marks' stored rows, each with its row version."""
    return {
        table: {
            (str(r["k"]), r["v"])
            for r in await pool.fetch(f"SELECT t::text AS k, t.xmin::text AS v FROM {table} t")
        }
        for table in (OPEN, MARKS)
    }


async def test_a_full_run_writes_only_the_moved_marks_and_positions(pool: asyncpg.Pool) -> None:
    """What the unrealized P&L is read from is brought to a full run's rows by difference: a new
    trade moving one mark rewrites that mark's row and adds the newcomer's position, nothing
    else; the figure read (the orderflow_wallet_scores view too) follows the mark."""
    led = Ledger()
    for who in HOLDERS:
        led.trade(who, "BUY", f"{10 * who}.5", "0.40", market_no=1, at=H(who), taker_aggregate=True)
        led.trade(who, "BUY", "20", "0.20", market_no=3, at=H(who), taker_aggregate=True)
    await led.flush(pool)
    await run_reputation(pool, full=True)
    before = await _rows(pool)
    assert len(before[OPEN]) == 2 * len(HOLDERS) and len(before[MARKS]) == 2
    led.trade(50, "BUY", "3", "0.70", market_no=1, at=H(30), taker_aggregate=True)
    await led.flush(pool)
    await run_reputation(pool, full=True)
    after = await _rows(pool)
    assert len(after[OPEN] - before[OPEN]) == 1  # the newcomer's
    assert before[OPEN] <= after[OPEN]
    assert len(after[MARKS] - before[MARKS]) == 1  # market 1's mark
    assert len(before[MARKS] - after[MARKS]) == 1
    assert await unrealized_of_view(pool, 1) == D("3.15")  # 10.5 x 0.30 + 20 x (0.20 - 0.20)
    assert await unrealized(pool, 50) == D(0)  # its own fill is the mark


async def unrealized_of_view(pool: asyncpg.Pool, who: int) -> D:
    value = await pool.fetchval(
        "SELECT unrealized_pnl FROM orderflow_wallet_scores WHERE wallet_address = $1", wallet(who)
    )
    assert isinstance(value, D)
    return value
