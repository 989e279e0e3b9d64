"""The reputation benchmark's synthetic database (``benchmarks/reputation.py``): trades and
market outcomes generated in SQL (one INSERT per chunk of trades), with the secondary indexes
and the per-(wallet, token) sums built after the load, as a history import does.

Synthetic market model: each market has a winning outcome; each wallet has a skill s in
[-0.15, 0.15] and picks the winning token with probability 0.5 + s, at a price uniform in
[0.05, 0.95]; fills come in episodes of four in one market (three buys, then a sell of part of
the position); 80% of markets resolve before the scoring time; 1 in 10,000 trades is in a token
with no market (exercises the issues path).
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orderflow import db  # noqa: E402
from orderflow.chain import partition_indexes, partitions  # noqa: E402
from orderflow.migrate import migrate  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
AS_OF = T0 + timedelta(days=200)
SECONDARY_INDEXES = (
    "orderflow_trades_wallet_time",
    "orderflow_trades_market",
    "orderflow_trades_token_time",
    "orderflow_trades_timestamp",
    "orderflow_trades_block",
)


# Addresses and hashes look like the chain's: random hex (a keccak or an address derived from
# one), made unique by the number in their last 8 digits. Counters padded with zeros
# ('0x0000...390c') would share their first bytes, which PostgreSQL's abbreviated sort keys
# compare: every sort on a wallet or market would then compare whole strings, about twice the
# cost real addresses have (docs/benchmarks.md "Fewer reads of every position; the
# benchmark's keys").
def _md5_parts(digits: int) -> range:
    """The md5 digests a key of ``digits`` hex digits takes its random part from."""
    return range((digits - 8 + 31) // 32)


def _hex_key(n: str, digits: int, salt: str) -> str:
    """SQL: ``digits`` hex digits, random-looking, unique for the integer expression ``n``."""
    md5s = " || ".join(f"md5('{salt}{k}' || {n})" for k in _md5_parts(digits))
    return f"'0x' || substr({md5s}, 1, {digits - 8}) || lpad(to_hex({n}), 8, '0')"


def _hex_key_of(n: int, digits: int, salt: str) -> str:
    """:func:`_hex_key`'s value for the integer ``n``, computed here."""
    md5s = "".join(hashlib.md5(f"{salt}{k}{n}".encode()).hexdigest() for k in _md5_parts(digits))
    return f"0x{md5s[: digits - 8]}{n:08x}"


_WALLET_KEY = (40, "w")  # an address's hex digits, its salt
WALLET_SQL = _hex_key("w", *_WALLET_KEY)
MARKET_SQL = _hex_key("m", 64, "m")


def wallet_address(w: int) -> str:
    """Wallet number ``w``'s address, as :data:`WALLET_SQL` makes it."""
    return _hex_key_of(w, *_WALLET_KEY)


def _insert_trades(market: str, stamp: str) -> str:
    """The trades INSERT: trade i (numbers $1 to $2) belongs to wallet w = i mod W ($3 wallets)
    and is that wallet's k-th fill (k = i div W); fills come in episodes of 4 (e = k div 4) in
    the market number ``market`` (SQL over w and k), at the time ``stamp`` (SQL over i, m, w
    and step)."""
    return f"""
WITH base AS (
    SELECT i, i % $3 AS w, i / $3 AS k
      FROM generate_series($1::bigint, $2::bigint) AS i
), ep AS (
    SELECT i, w, k, k % 4 AS step,
           {market} AS m
      FROM base
), dec AS (
    SELECT ep.*,
           (abs(hashint8(m)) % 2) AS winner,
           ((abs(hashint8(w)) % 301) - 150) / 1000.0 AS skill,
           (abs(hashint8(w * 7 + k / 4)) % 1000) / 1000.0 AS u_pick,
           0.05 + (abs(hashint8(i)) % 91) / 100.0 AS price,
           1 + abs(hashint8(i * 3)) % 200 AS shares
      FROM ep
)
INSERT INTO orderflow_trades (
    chain_id, tx_hash, log_index, block_number, block_hash, timestamp, exchange,
    exchange_version, order_hash, wallet_address, taker_address, is_taker_aggregate, side,
    token_id, market_id, outcome_index, price, size, usdc_size, fee, fee_asset)
SELECT 137,
       {_hex_key("i", 64, "t")},
       i % 50,
       40000000 + i / 50,
       {_hex_key("(i / 50)", 64, "b")},
       {stamp},
       '0xe111180000d2663c0091e4f400237545b87b996b',
       'V2',
       {_hex_key("i", 64, "o")},
       {WALLET_SQL},
       '0xe111180000d2663c0091e4f400237545b87b996b',
       step = 0,
       CASE WHEN step = 3 THEN 'SELL' ELSE 'BUY' END,
       CASE WHEN i % 10000 = 7 THEN 900000000 + i
            ELSE m * 2 + CASE WHEN u_pick < 0.5 + skill THEN winner ELSE 1 - winner END END,
       CASE WHEN i % 10000 = 7 THEN NULL ELSE {MARKET_SQL} END,
       CASE WHEN i % 10000 = 7 THEN NULL
            ELSE (CASE WHEN u_pick < 0.5 + skill THEN winner ELSE 1 - winner END)::smallint END,
       price,
       CASE WHEN step = 3 THEN shares / 2 ELSE shares END,
       round(price * CASE WHEN step = 3 THEN shares / 2 ELSE shares END, 6),
       CASE WHEN step = 0 THEN round(price * shares * 0.001, 6) ELSE 0 END,
       'COLLATERAL'
  FROM dec
"""


_EPISODE = "abs(hashint8(w * 1000003 + k / 4))"

# The history: $4 = markets, market m = hash(w, e) mod M; $6 = T0, $5 = seconds in the period.
INSERT_TRADES = _insert_trades(
    f"({_EPISODE} % $4)",
    "$6::timestamptz + make_interval(secs => (abs(hashint8(m * 13 + w)) % $5) + step * 60)",
)

# An hour of new trades, as on mainnet: in open markets only (the CLOB stops trading a market
# when it resolves), stamped within the last hour. $4 = how many of the open markets, $5 = the
# open markets' numbers (:func:`open_markets`).
RECENT_TRADES = _insert_trades(
    f"($5::bigint[])[1 + {_EPISODE} % least($4, cardinality($5::bigint[]))]",
    "now() - make_interval(secs => i % 3600)",
)


def _insert_outcomes(markets: str, resolved_at: str, where: str) -> str:
    """The outcomes INSERT: market m (of the set ``markets``, filtered by ``where``) resolves
    at ``resolved_at`` (SQL over m) to its winner."""
    return f"""
INSERT INTO orderflow_market_outcomes (
    market_id, oracle, question_id, outcome_slot_count, payout_numerators, payouts,
    winning_outcome, resolved_at, chain_id, block_number, block_hash, tx_hash, log_index)
SELECT {MARKET_SQL},
       '0xd91e80cf2e7be2e162c6513ced06f1dd0da35296',
       '0x' || lpad(to_hex(m), 64, 'a'),
       2,
       CASE WHEN abs(hashint8(m)) % 2 = 0 THEN ARRAY[1, 0]::numeric[] ELSE ARRAY[0, 1] END,
       CASE WHEN abs(hashint8(m)) % 2 = 0 THEN ARRAY[1, 0]::numeric[] ELSE ARRAY[0, 1] END,
       (abs(hashint8(m)) % 2)::smallint,
       {resolved_at},
       137, 50000000 + m, '0x' || lpad(to_hex(m), 64, 'b'), '0x' || lpad(to_hex(m), 64, 'c'), 0
  FROM {markets} AS m
 WHERE {where}
"""


# $1 = markets, $2 = T0, $3 = seconds in the period: 80% resolve after the period.
INSERT_OUTCOMES = _insert_outcomes(
    "generate_series(0, $1 - 1)",
    "$2::timestamptz + make_interval(secs => $3 + 86400 + (abs(hashint8(m * 5)) % 86400))",
    "abs(hashint8(m * 11)) % 10 < 8",
)

# $1 = the numbers of markets that resolve now: after every fill stored before this statement.
RESOLVE_NOW = _insert_outcomes("unnest($1::bigint[])", "now()", "true")


async def open_markets(conn: asyncpg.Connection, markets: int) -> list[int]:
    """The numbers of the ``markets`` generated markets that have not resolved (stored no
    outcome): where new trades may go."""
    resolved = {r[0] for r in await conn.fetch("SELECT market_id FROM orderflow_market_outcomes")}
    return [m for m in range(markets) if _hex_key_of(m, 64, "m") not in resolved]


async def build(dsn: str, wallets: int, trades: int, markets: int, chunk: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    conn = await db.connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("ALTER TABLE orderflow_trades DISABLE TRIGGER USER")
        # the secondary indexes as the migrations define them, built again after the load
        definitions = [
            r["def"].replace(" ON ONLY ", " ON ")
            for r in await conn.fetch(
                "SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index"
                " WHERE indrelid = 'orderflow_trades'::regclass"
                " AND indexrelid::regclass::text = ANY($1::text[]) ORDER BY indexrelid",
                list(SECONDARY_INDEXES),
            )
        ]
        for name in SECONDARY_INDEXES:
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
        await conn.execute(
            "ALTER TABLE orderflow_trades DROP CONSTRAINT IF EXISTS orderflow_trades_pkey"
        )
        await conn.execute(
            "ALTER TABLE orderflow_trades DROP CONSTRAINT IF EXISTS orderflow_trades_id_key"
        )
        period = 150 * 86400
        # 50 trades a block from block 40,000,000: their partitions (migration 012), without
        # their own deferrable indexes (migration 072: built after the load, below)
        last = 40_000_000 + trades // 50
        await partitions.ensure(conn, 40_000_000, last)
        await conn.execute(partition_indexes.DEFER, [*range(40_000_000, last, 1_296_000), last])
        started = time.perf_counter()
        for lo in range(0, trades, chunk):
            hi = min(trades, lo + chunk) - 1
            await conn.execute(INSERT_TRADES, lo, hi, wallets, markets, period, T0)
            print(f"  loaded {hi + 1:>12,} / {trades:,} trades", file=sys.stderr, flush=True)
        await conn.execute(INSERT_OUTCOMES, markets, T0, period)
        timings["load_secs"] = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute(
            "ALTER TABLE orderflow_trades ADD PRIMARY KEY (chain_id, block_number, log_index)"
        )
        # (the timestamp index among them: without it a run's "any fill after the cut-off?"
        # probe reads the whole token index of every partition, ≈ 1 s at 20 M trades)
        for definition in definitions:
            await conn.execute(definition)
        await partition_indexes.build_missing(conn)
        await conn.execute("ALTER TABLE orderflow_trades ENABLE TRIGGER USER")
        # Loaded with the triggers off: the partitions' time and id covers (migration 018) are
        # still the empty ones, and readers bounded by time (the --as-of scan) would prune
        # every partition. What a restore done by hand needs too (docs/scaling.md §3.4).
        await conn.execute("SELECT orderflow_trade_ranges_refresh()")
        await conn.execute("VACUUM ANALYZE orderflow_trades")
        await conn.execute("ANALYZE orderflow_market_outcomes")
        timings["index_secs"] = time.perf_counter() - started
        started = time.perf_counter()
        sums = await conn.fetchval("SELECT orderflow_position_sums_sql('orderflow_trades')")
        await conn.execute("TRUNCATE orderflow_position_sums")
        await conn.execute(f"INSERT INTO orderflow_position_sums SELECT s.* FROM ({sums}) s")
        await conn.execute("VACUUM ANALYZE orderflow_position_sums")
        timings["sums_secs"] = time.perf_counter() - started
    finally:
        await conn.close()
    return timings
