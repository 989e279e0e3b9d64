"""A print at 1.00 is no favourite PENNY_PICKER counts.

PENNY_PICKER reads the share of a wallet's buy stake at prices above 0.90 (``penny_u`` of the
per-(wallet, token) sums). A buy printed at 1.00 is no CLOB buy (ticks stop at 0.99 or 0.999:
``line_sql.level_sql``, the one rule of a level since session 41): a wash or settlement-like
print, no decision to buy a favourite. Until 7 Dec 2026 it counted, so a wallet whose only
"favourite" buys were prints at 1.00 was PENNY_PICKER (``test_copier_prints.py`` noted it of its
printer), in the run (the sums' triggers and the scan) and in ``orderflow wallet``'s replay.
A real penny picker buying favourites at 0.95-0.99 still is (the control).
"""

from __future__ import annotations

import asyncpg

from orderflow.chain import partitions
from orderflow.migrate import migrations_dir
from orderflow.reputation import compute_scores, run_reputation
from orderflow.reputation.per_wallet import wallet_report
from tests.reputation.population import penny_picker
from tests.reputation.test_cases import stats
from tests.reputation.test_copier_prints import _lead_and_print, _printer_world
from tests.reputation.test_incremental_sums import assert_sums_match
from tests.reputation.test_void_decisions import _full_equals_incremental


async def _penny_share(pool: asyncpg.Pool, who: str) -> float:
    """The replay's (``orderflow wallet``) stake share above 0.90."""
    async with pool.acquire() as conn:
        row = await stats(pool, who)
        report = await wallet_report(conn, who, stats=dict(row))
    return float(report.scores.penny_share[0])


async def test_prints_at_one_make_no_penny_picker(pool: asyncpg.Pool) -> None:
    w, leader, printer, later = _printer_world(seed=81)
    picker = w.new_wallet()
    penny_picker(w, picker, 30)
    await w.finish(pool)
    assert not (await run_reputation(pool)).incremental
    # the printer's buys: 40 prints at 1.00, nothing else
    assert await pool.fetchval(
        "SELECT bool_and(price = 1) AND count(*) = 40 FROM orderflow_trades"
        " WHERE wallet_address = $1 AND side = 'BUY'",
        printer,
    )
    row = await stats(pool, printer)
    assert "PENNY_PICKER" not in row["flags"], (row["trader_tier"], row["flags"])
    assert await _penny_share(pool, printer) == 0.0
    scored = await compute_scores(pool)  # the scan (as an --as-of run reads)
    assert "PENNY_PICKER" not in scored[printer].flags
    # the control: favourites bought at 0.95-0.99 are a penny picker's
    assert "PENNY_PICKER" in (await stats(pool, picker))["flags"]
    assert "PENNY_PICKER" in scored[picker].flags
    assert await _penny_share(pool, picker) > 0.9

    # more such prints later: the incremental run says what a full one says, and the stored
    # sums are the trades'
    for i in later:
        _lead_and_print(w, i, leader, printer)
    await w.chain.ingest(pool)
    assert (await run_reputation(pool)).incremental
    assert "PENNY_PICKER" not in (await stats(pool, printer))["flags"]
    await _full_equals_incremental(pool)
    await assert_sums_match(pool)


# The stored sums as the rule before migration 099 made them: every buy at 1 or more in penny_u.
_OLD_PENNY = """
UPDATE orderflow_position_sums a SET penny_u = a.penny_u + p.u
  FROM (SELECT wallet_address, token_id, sum((usdc_size * 1000000)::numeric(38, 0)) AS u
          FROM {table} WHERE side = 'BUY' AND price >= 1 GROUP BY 1, 2) p
 WHERE a.wallet_address = p.wallet_address AND a.token_id = p.token_id
"""


async def test_migration_099_takes_the_prints_out_of_the_stored_sums(pool: asyncpg.Pool) -> None:
    """The stored sums an older release kept (prints at 1.00 in ``penny_u``), with the older
    partition detached and still a table: migration 099 takes the prints of both out, so once
    the partition is attached again the sums are the trades'."""
    w, _, printer, _ = _printer_world(seed=82)
    await w.finish(pool)
    oldest = await pool.fetchval(
        """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'orderflow_trades'::regclass ORDER BY c.relname LIMIT 1"""
    )
    async with pool.acquire() as conn:
        await partitions.detach(conn, oldest)
        for table in ("orderflow_trades", oldest):
            await conn.execute(_OLD_PENNY.format(table=table))
        held = [await conn.fetchval(f"SELECT count(*) FROM {t} WHERE price >= 1 AND side = 'BUY'")
                for t in ("orderflow_trades", oldest)]  # fmt: skip
        assert all(n > 0 for n in held), held  # prints on both sides of the detach
        assert await conn.fetchval(
            "SELECT sum(penny_u) FROM orderflow_position_sums WHERE wallet_address = $1", printer
        )
        await conn.execute((migrations_dir() / "099_penny_levels.sql").read_text())
        assert not await conn.fetchval(
            "SELECT sum(penny_u) FROM orderflow_position_sums WHERE wallet_address = $1", printer
        )
        await partitions.attach(conn, oldest)
    await assert_sums_match(pool, counters=False)
