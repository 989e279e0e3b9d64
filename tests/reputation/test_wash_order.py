"""``rep_wash`` to the last bit, whatever the plan or the row order.

The WASH statement (``orderflow.reputation.wash_sql.WASH``) sums amounts per bucket, per wallet
and per token; summed as float8 in whatever order the plan delivers rows, their last bits
followed the hash tables, ``work_mem``, parallelism and the tables' physical order, and a full
and an incremental run agreed only while both planned the statement alike. Its sums are exact
now, so it is run here on one population under other plans and row orders and every row must
come out bit for bit the same (the populations' round prices put a few fills exactly at the
off-market distance from the prevailing price, 2 to 9 per pass and settings: their verdicts are
among the bits compared). The frozen reference (:data:`tests.reputation.wash_reference.
OLD_WASH`, whose rows main's statement reproduced to the bit under the same plans) fails the same
check: asserted, so the check is known to bite.

"Half the wallets" (the wallets statement's check) has no counterpart here: every row of WASH
depends on the other wallets' trades (the prevailing price, the pairs, the partners' volumes),
and an incremental run runs it over every wallet. What differs between the two runs is
``rep_positions``, of which WASH reads each wallet's share volume: the incremental run's thin
stand-in from the per-(wallet, token) sums, unanalyzed, against the full run's positions.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from orderflow.reputation import ReputationSettings, positions_sql
from orderflow.reputation.wash_sql import WASH, wash_settings
from tests.reputation.population import World
from tests.reputation.test_wash_identity import SETTINGS, random_population, wash_population
from tests.reputation.wash_reference import OLD_WASH

Rows = dict[tuple[str, Any], tuple[Any, ...]]


def _bits(v: Any) -> Any:
    """A value compared to the last bit (a float by its hex form)."""
    return v.hex() if isinstance(v, float) else v


async def _rows(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...], tag: str) -> Rows:
    """``rep_wash`` made by ``sql``: each (wallet, token) row, floats as bits. ``tag`` makes
    the statements' text new (a prepared statement keeps the tables it was parsed against: one
    cached before a temporary ``orderflow_trades`` existed would read the real one, and a read
    of ``rep_wash`` cached when another statement made it with other columns fails)."""
    await conn.execute("DROP TABLE IF EXISTS rep_wash")
    await conn.execute(f"{sql}\n-- {tag}", *args)
    rows = await conn.fetch(f"SELECT * FROM rep_wash -- {tag} {zlib.crc32(sql.encode())}")
    out = {(r["wallet_address"], r["token_id"]): tuple(_bits(v) for v in r.values()) for r in rows}
    assert len(out) == len(rows)
    return out


async def _trades_in(conn: asyncpg.Connection, order: str, later: bool = False) -> None:
    """The trades as a temporary table (which the statement reads in its place: ``pg_temp``
    comes first in the search path) written in another physical order, without the indexes;
    ``later``: each fill also a year after the cut-off, interleaved, which the as_of gate drops
    (twice the table, other statistics, the same rows through the gate)."""
    await conn.execute(
        "CREATE TEMP TABLE later ON COMMIT DROP AS SELECT * FROM public.orderflow_trades"
        + ("; UPDATE later SET timestamp = timestamp + interval '1 year'" if later else "")
    )
    await conn.execute(
        "CREATE TEMP TABLE orderflow_trades ON COMMIT DROP AS SELECT * FROM"
        f" (SELECT * FROM public.orderflow_trades UNION ALL SELECT * FROM later WHERE {later})"
        f" t ORDER BY {order}"
    )
    await conn.execute("ANALYZE orderflow_trades")


async def _positions(conn: asyncpg.Connection, sql: str, analyze: bool = True) -> None:
    await conn.execute("DROP TABLE rep_positions")
    await conn.execute(sql)
    if analyze:
        await conn.execute("ANALYZE rep_positions")


_THIN = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT wallet_address, sum(bought_gross_u + sold_gross_u)::numeric AS shares_u
  FROM orderflow_position_sums WHERE fills > 0 GROUP BY wallet_address"""
_SHUFFLED = """CREATE TEMP TABLE rep_positions ON COMMIT DROP AS
SELECT * FROM rep_positions_full ORDER BY md5(wallet_address || token_id::text)"""
_PARALLEL = (
    "SET LOCAL max_parallel_workers_per_gather = 2; SET LOCAL parallel_setup_cost = 0;"
    " SET LOCAL parallel_tuple_cost = 0; SET LOCAL min_parallel_table_scan_size = 0;"
    " SET LOCAL min_parallel_index_scan_size = 0"
)

_Setup = Callable[[asyncpg.Connection], Awaitable[Any]]
PERTURBATIONS: dict[str, _Setup] = {
    "shuffled trades": lambda c: _trades_in(c, "md5(tx_hash || log_index)"),
    "reversed trades": lambda c: _trades_in(c, "timestamp DESC, tx_hash DESC, log_index DESC"),
    "later trades the gate drops": lambda c: _trades_in(c, "md5(log_index || tx_hash)", True),
    "no hash aggregation": lambda c: c.execute("SET LOCAL enable_hashagg = off"),
    "no sort": lambda c: c.execute("SET LOCAL enable_sort = off"),
    "64kB work_mem": lambda c: c.execute("SET LOCAL work_mem = '64kB'"),
    "no parallel workers": lambda c: c.execute("SET LOCAL max_parallel_workers_per_gather = 0"),
    "2 parallel workers, free": lambda c: c.execute(_PARALLEL),
    "shuffled positions": lambda c: _positions(c, _SHUFFLED),
    "the incremental run's thin positions": lambda c: _positions(c, _THIN, analyze=False),
}


async def _under_each(conn: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, Rows]:
    """``sql``'s rows as built, then under each perturbation (each undone after)."""
    out = {"as built": await _rows(conn, sql, args, "as built")}
    for name, setup in PERTURBATIONS.items():
        savepoint = conn.transaction()
        await savepoint.start()
        await setup(conn)
        out[name] = await _rows(conn, sql, args, name)
        await savepoint.rollback()  # the perturbation goes with it
    return out


def _changed(runs: dict[str, Rows]) -> list[str]:
    """The perturbations under which some row differs from the rows as built."""
    return [name for name, rows in runs.items() if rows != runs["as built"]]


async def _prepare(conn: asyncpg.Connection, settings: ReputationSettings) -> tuple[Any, ...]:
    """The full run's ``rep_positions`` (kept as ``rep_positions_full``); WASH's parameters."""
    await conn.execute(f"SET LOCAL work_mem = '{settings.work_mem}'")
    await conn.execute(f"SET LOCAL max_parallel_workers_per_gather = {settings.parallel_workers}")
    as_of = await conn.fetchval("SELECT now()")
    await conn.execute(positions_sql.positions(), as_of)
    await conn.execute(positions_sql.ANALYZE)
    await conn.execute("CREATE TEMP TABLE rep_positions_full ON COMMIT DROP AS TABLE rep_positions")
    return (as_of, *wash_settings(settings))


@pytest.mark.parametrize("seed", [6, 7])
async def test_same_bits_under_any_plan_or_row_order(pool: asyncpg.Pool, seed: int) -> None:
    w = World(seed=seed, markets=12, neg_risk_events=1)
    random_population(w, wallets=10 + 4 * seed, trades=150 * seed)
    wash_population(w)
    await w.finish(pool)
    for settings in SETTINGS.values():
        async with pool.acquire() as conn, conn.transaction():
            args = await _prepare(conn, settings)
            await conn.execute(WASH, *args)
            seen = await conn.fetchrow(
                """SELECT count(*) AS rows, count(*) FILTER (WHERE off_fills > 0) AS off_market,
                          count(off_tb) AS off_tokens, count(host) AS hosted FROM rep_wash"""
            )
            assert seen is not None and seen["rows"] > 30 and seen["off_tokens"] > 3, seen
            assert seen["off_market"] > 3 and seen["hosted"] > 0, seen
            runs = await _under_each(conn, WASH, args)
            assert _changed(runs) == []
            # the check bites: the frozen float8 sums move with the row order and the plan
            old = set(_changed(await _under_each(conn, OLD_WASH, args)))
            assert {"shuffled trades", "no hash aggregation", "2 parallel workers, free"} <= old
