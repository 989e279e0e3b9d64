"""An incremental run's counterparty update reads the trades of its region alone: the buckets it
recomputes and the ones next to them, by the token index's time order. Before, the statement's
time bounds came from a join the planner did not parameterize the index scan with, so every
trade of each of the region's tokens was read and filtered (at 100 k wallets, a change in a fifth
of the markets read 850,000 trade pages for 250,000 rows: 11 s of a 25 s step,
docs/benchmarks.md "Counterparty regions read by their time range"); a token of a busy market
holds millions of fills."""

from __future__ import annotations

import asyncpg

from orderflow.reputation import ReputationSettings, wash_region
from orderflow.reputation import wash_partials_sql as sql
from orderflow.reputation.wash_sql import wash_settings
from tests.reputation.population import World, noise_taker

_READ = """
SELECT coalesce(sum(idx_tup_fetch), 0) + coalesce(sum(seq_tup_read), 0)
  FROM pg_stat_xact_user_tables WHERE relname LIKE 'orderflow\\_trades\\_p%'
"""


async def test_a_region_reads_only_the_trades_of_its_buckets(pool: asyncpg.Pool) -> None:
    w = World(seed=83, markets=4, neg_risk_events=0, makers=2)
    for _ in range(40):  # every market traded all along its life: hundreds of hourly buckets
        noise_taker(w, w.new_wallet(), 4)
    await w.finish(pool)
    await pool.execute("VACUUM ANALYZE orderflow_trades")
    settings = ReputationSettings()
    window = settings.wash_window_secs
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        max_id = await conn.fetchval("SELECT max(id) FROM orderflow_trades")
        # one market's busiest bucket: the region is it and the buckets next to it
        bucket = sql.BUCKET.replace("$3", f"{window!r}")
        mk, b = await conn.fetchrow(
            f"""SELECT {sql.MK} AS mk, {bucket} AS b FROM orderflow_trades t
                 GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1"""
        )
        # each market key's tokens, as a build stores them
        await conn.execute(
            f"INSERT INTO orderflow_wash_tokens SELECT DISTINCT {sql.MK}, t.token_id"
            " FROM orderflow_trades t"
        )
        await conn.execute("CREATE TEMP TABLE rep_wash_s (mk text, b int8) ON COMMIT DROP")
        await conn.execute("INSERT INTO rep_wash_s VALUES ($1, $2)", mk, b)
        wanted = await conn.fetchval(
            f"""SELECT count(*) FROM orderflow_trades t
                 WHERE {sql.MK} = $1 AND {bucket} BETWEEN $2::int8 - 2 AND $2::int8 + 2""",
            mk,
            b,
        )
        market_trades = await conn.fetchval(
            f"SELECT count(*) FROM orderflow_trades t WHERE {sql.MK} = $1", mk
        )
        assert market_trades > 4 * wanted, "the market must trade far outside the region"
        # the plan a large table gets (a small one may well be read whole)
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        before = await conn.fetchval(_READ)
        await conn.execute(sql.REGION_ROWS, as_of, *wash_settings(settings), max_id)
        read = await conn.fetchval(_READ) - before
        stored = await conn.fetchval("SELECT count(*) FROM rep_wash_rows")
    # the region's buckets and their neighbours (b - 2 .. b + 2) bound what is read: the
    # statement keeps b - 1 .. b + 1, read with a second of margin either side
    assert 0 < stored <= read <= wanted, (stored, read, wanted, market_trades)


async def test_a_second_region_reads_only_the_buckets_the_first_lacked(pool: asyncpg.Pool) -> None:
    """An update's pass 2 reads the region of pass 1's buckets and of the flipped wallets'
    buckets: the trades pass 1 read are kept, only the other buckets' are read, and the rows are
    the ones a fresh read of the whole region gives."""
    w = World(seed=84, markets=4, neg_risk_events=0, makers=2)
    for _ in range(40):
        noise_taker(w, w.new_wallet(), 4)
    await w.finish(pool)
    await pool.execute("VACUUM ANALYZE orderflow_trades")
    settings = ReputationSettings()
    bucket = sql.BUCKET.replace("$3", f"{settings.wash_window_secs!r}")
    async with pool.acquire() as conn, conn.transaction():
        as_of = await conn.fetchval("SELECT now()")
        args = (
            as_of,
            *wash_settings(settings),
            await conn.fetchval("SELECT max(id) FROM orderflow_trades"),
        )
        busiest = await conn.fetch(
            f"""SELECT DISTINCT ON (mk) mk, b FROM (
                    SELECT {sql.MK} AS mk, {bucket} AS b, count(*) AS n FROM orderflow_trades t
                     GROUP BY 1, 2) x
                 ORDER BY mk, n DESC, b LIMIT 2"""
        )
        (mk1, b1), (mk2, b2) = busiest
        await conn.execute(
            f"INSERT INTO orderflow_wash_tokens SELECT DISTINCT {sql.MK}, t.token_id"
            " FROM orderflow_trades t"
        )
        await conn.execute("CREATE TEMP TABLE first_b (mk text, b int8) ON COMMIT DROP")
        await conn.execute("INSERT INTO first_b VALUES ($1, $2)", mk1, b1)
        await conn.execute("CREATE TEMP TABLE both_b (mk text, b int8) ON COMMIT DROP")
        await conn.execute("INSERT INTO both_b VALUES ($1, $2), ($3, $4)", mk1, b1, mk2, b2)
        lacked = await conn.fetchval(
            f"""SELECT count(*) FROM orderflow_trades t
                 WHERE {sql.MK} = $1 AND {bucket} BETWEEN $2::int8 - 3 AND $2::int8 + 3""",
            mk2,
            b2,
        )
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        await wash_region.read_region(conn, "SELECT mk, b FROM first_b", args)
        first = await conn.fetchval("SELECT count(*) FROM rep_wash_rows")
        before = await conn.fetchval(_READ)
        await wash_region.read_region(conn, "SELECT mk, b FROM both_b", args, again=True)
        read = await conn.fetchval(_READ) - before
        await conn.execute("ALTER TABLE rep_wash_rows RENAME TO kept_rows")
        await conn.execute(sql.REGION_ROWS, *args)  # the whole region, read afresh
        differ = await conn.fetchval(
            """SELECT count(*) FROM ((TABLE kept_rows EXCEPT ALL TABLE rep_wash_rows)
                                     UNION ALL
                                     (TABLE rep_wash_rows EXCEPT ALL TABLE kept_rows)) d"""
        )
        whole = await conn.fetchval("SELECT count(*) FROM rep_wash_rows")
    assert differ == 0 and whole > first > 0
    assert 0 < read <= lacked, (read, lacked, first)
